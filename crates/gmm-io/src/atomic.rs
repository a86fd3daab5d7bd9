//! Atomic writes: a temporary file in the destination's directory, renamed
//! into place once complete.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Calls `write` on a buffered temporary file next to `path`, flushes and syncs
/// it, then renames it over `path`. On any error the temporary file is removed
/// and `path` is untouched.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    write_atomically_seekable(path, |w| write(w))
}

/// As [`write_atomically`], with a writer that can also seek (to fill in a
/// header once the data is written). Returns what `write` returns.
pub(crate) fn write_atomically_seekable<R>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&std::fs::File>) -> std::io::Result<R>,
) -> Result<R> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".gmm-").suffix(".tmp");
    // Temporary files are private (0600) by default; outputs are ordinary files.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let tmp = builder.tempfile_in(dir).map_err(|e| Error::io(e, path))?;
    let out = {
        let mut w = BufWriter::new(tmp.as_file());
        let out = write(&mut w).map_err(|e| Error::io(e, path))?;
        w.flush().map_err(|e| Error::io(e, path))?;
        out
    };
    tmp.as_file().sync_all().map_err(|e| Error::io(e, path))?;
    tmp.persist(path).map_err(|e| Error::io(e.error, path))?;
    Ok(out)
}
