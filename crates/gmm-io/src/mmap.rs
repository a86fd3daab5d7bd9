//! The one place in the workspace with `unsafe` code: mapping a file
//! read-only, and turning the loss of a mapped page into a one-line error.
//!
//! A memory-mapped file that another program truncates while it is mapped
//! loses the pages past its new end; reading one raises `SIGBUS`, whose
//! default action kills the process with nothing on stderr. Every mapping made
//! here is registered with its file name, and a `SIGBUS` handler (installed
//! with the first mapping) that finds the faulting address in one of them
//! removes the temporary files of outputs being written, prints
//! `error: FILE: the file changed size while being read ...` and exits with
//! code 1 (a fault outside every registered mapping goes to the previous
//! handler, or the default action). Nothing half-written is left behind.
//!
//! The registry is a fixed table of atomics: the handler takes no lock and
//! allocates nothing. Registered names are leaked on purpose (a few hundred
//! bytes per mapped file or written output), so that the handler never reads
//! freed memory.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::ptr::null_mut;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use memmap2::Mmap;

/// Mappings and temporary files the handler knows at once.
const SLOTS: usize = 4096;

struct MapSlot {
    used: AtomicBool,
    start: AtomicUsize,
    end: AtomicUsize,
    /// The whole message, `error: ...\n`, leaked.
    msg: AtomicPtr<u8>,
    msg_len: AtomicUsize,
}

static MAPS: [MapSlot; SLOTS] = [const {
    MapSlot {
        used: AtomicBool::new(false),
        start: AtomicUsize::new(0),
        end: AtomicUsize::new(0),
        msg: AtomicPtr::new(null_mut()),
        msg_len: AtomicUsize::new(0),
    }
}; SLOTS];

/// Set when a mapping could not be registered (the table was full): a fault
/// outside the known mappings then gets the generic message.
static MAPS_OVERFLOWED: AtomicBool = AtomicBool::new(false);

/// Paths of the temporary files of outputs being written (leaked C strings).
static TEMPS: [AtomicPtr<c_char>; SLOTS] = [const { AtomicPtr::new(null_mut()) }; SLOTS];

const GENERIC: &[u8] = b"error: a memory-mapped input file changed size while being read \
(truncated or rewritten by another program): nothing was written; rerun once no other program \
modifies the inputs\n";

/// A read-only mapping of a file, registered with the `SIGBUS` handler for as
/// long as it lives.
#[derive(Debug)]
pub(crate) struct Mapping {
    map: Mmap,
    slot: Option<usize>,
}

impl std::ops::Deref for Mapping {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if let Some(s) = self.slot {
            let slot = &MAPS[s];
            slot.end.store(0, Ordering::Release);
            slot.start.store(0, Ordering::Release);
            slot.used.store(false, Ordering::Release);
        }
    }
}

/// Maps `file` (opened from `path`) read-only.
pub(crate) fn map_readonly(file: &File, path: &Path) -> std::io::Result<Mapping> {
    // SAFETY: memmap2 requires that the file is not modified or truncated by
    // anyone while mapped, or reads through the map may see changed bytes or
    // fault. We map read-only and never write through it. A truncation is
    // caught by the SIGBUS handler registered below (one-line error, exit 1,
    // temporary outputs removed); an in-place rewrite of the same length is
    // detected after the work by comparing the file's length and modification
    // time (`Dataset::check_unchanged`). Lengths are validated against the
    // header before any typed access, and all access goes through
    // bounds-checked slices.
    let map = unsafe { Mmap::map(file) }?;
    install_handler();
    let slot = register_mapping(&map, path);
    Ok(Mapping { map, slot })
}

fn register_mapping(map: &Mmap, path: &Path) -> Option<usize> {
    if map.is_empty() {
        return None;
    }
    let msg = format!(
        "error: {}: the file changed size while being read (truncated or rewritten by another \
         program): nothing was written; rerun once no other program modifies it\n",
        path.display()
    )
    .into_bytes()
    .into_boxed_slice();
    let len = msg.len();
    let msg = Box::leak(msg).as_mut_ptr();
    for (i, slot) in MAPS.iter().enumerate() {
        if slot
            .used
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            let start = map.as_ptr() as usize;
            slot.msg.store(msg, Ordering::Release);
            slot.msg_len.store(len, Ordering::Release);
            slot.start.store(start, Ordering::Release);
            slot.end.store(start + map.len(), Ordering::Release);
            return Some(i);
        }
    }
    MAPS_OVERFLOWED.store(true, Ordering::Release);
    None
}

/// A temporary output file known to the handler (and to
/// [`remove_temporary_files`]) until dropped.
#[derive(Debug)]
pub(crate) struct TempRegistration(Option<usize>);

impl Drop for TempRegistration {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            TEMPS[i].store(null_mut(), Ordering::Release);
        }
    }
}

/// Registers `path` as a temporary file to remove if the process must end
/// abruptly.
pub(crate) fn register_temp(path: &Path) -> TempRegistration {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return TempRegistration(None);
    };
    let ptr = c.into_raw();
    for (i, slot) in TEMPS.iter().enumerate() {
        if slot
            .compare_exchange(null_mut(), ptr, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            return TempRegistration(Some(i));
        }
    }
    TempRegistration(None)
}

/// Removes the temporary files of the outputs being written, so that a
/// process about to exit on a signal leaves nothing half-written behind.
/// Returns how many were removed.
pub fn remove_temporary_files() -> usize {
    use std::os::unix::ffi::OsStrExt;
    let mut removed = 0;
    for slot in &TEMPS {
        let p = slot.swap(null_mut(), Ordering::AcqRel);
        if p.is_null() {
            continue;
        }
        // SAFETY: every non-null pointer in TEMPS came from CString::into_raw
        // in register_temp and is never freed (leaked on purpose).
        let c = unsafe { CStr::from_ptr(p) };
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(c.to_bytes()));
        if std::fs::remove_file(path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The action `SIGBUS` had before ours, for faults that are not ours.
static PREVIOUS: std::sync::OnceLock<libc::sigaction> = std::sync::OnceLock::new();

fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sigaction with a zeroed, then filled, struct is the
        // documented way to install a handler. PREVIOUS is set right after;
        // until then a fault that is not ours gets the default action.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &action, &mut old) == 0 {
                let _ = PREVIOUS.set(old);
            }
        }
    });
}

/// The `SIGBUS` handler: async-signal-safe (atomics, `unlink`, `write`,
/// `_exit`, `sigaction` only).
extern "C" fn on_sigbus(_sig: c_int, info: *mut libc::siginfo_t, _ctx: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let mut msg: Option<(*const u8, usize)> = None;
    for slot in &MAPS {
        if slot.used.load(Ordering::Acquire) {
            let (start, end) = (
                slot.start.load(Ordering::Acquire),
                slot.end.load(Ordering::Acquire),
            );
            if start <= addr && addr < end {
                msg = Some((
                    slot.msg.load(Ordering::Acquire),
                    slot.msg_len.load(Ordering::Acquire),
                ));
                break;
            }
        }
    }
    if msg.is_none() && MAPS_OVERFLOWED.load(Ordering::Acquire) {
        msg = Some((GENERIC.as_ptr(), GENERIC.len()));
    }
    let Some((ptr, len)) = msg else {
        // Not a page of ours: give the fault back to whoever had it (the
        // instruction is retried when the handler returns).
        // SAFETY: restoring an action with sigaction is async-signal-safe;
        // OnceLock::get is one atomic load.
        unsafe {
            match PREVIOUS.get() {
                Some(old) => libc::sigaction(libc::SIGBUS, old, null_mut()),
                None => {
                    let mut dfl: libc::sigaction = std::mem::zeroed();
                    dfl.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(libc::SIGBUS, &dfl, null_mut())
                }
            };
        }
        return;
    };
    // SAFETY: the pointers in TEMPS are leaked C strings, valid forever; the
    // message is a leaked (or static) byte string of `len` bytes; unlink,
    // write and _exit are async-signal-safe.
    unsafe {
        for slot in &TEMPS {
            let p = slot.load(Ordering::Acquire);
            if !p.is_null() {
                libc::unlink(p);
            }
        }
        libc::write(2, ptr.cast::<c_void>(), len);
        libc::_exit(1);
    }
}
