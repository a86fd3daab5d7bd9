//! The one place in the workspace with `unsafe` code: mapping a file read-only.

use std::fs::File;

use memmap2::Mmap;

/// Maps `file` read-only.
///
/// The mapping is only ever read, through `&[u8]`, and lives as long as the
/// `Dataset` that owns it.
pub(crate) fn map_readonly(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: memmap2 requires that the file is not modified or truncated by
    // anyone while mapped, or reads through the map may see changed bytes or
    // fault. We map read-only and never write through it; the engine documents
    // that datasets must not be modified while a fit reads them (the same
    // contract as numpy.memmap). Lengths are validated against the header
    // before any typed access, and all access goes through bounds-checked slices.
    unsafe { Mmap::map(file) }
}
