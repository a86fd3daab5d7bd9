//! Outputs: checked and prepared before any work, written whole or not at all.
//!
//! An [`Output`] is made from the path a user gave, before the first pass
//! over the data, so that a bad path fails at once:
//!
//! - `-` is standard output (an error if it is closed);
//! - an existing file that is not a regular file (a device such as
//!   `/dev/null`, a FIFO, a terminal) is written through, never replaced;
//! - anything else gets a temporary file in the destination's directory,
//!   created now (which proves the directory exists and is writable), filled
//!   later, synced and renamed over the destination. On any error, or when
//!   the process ends on a signal, the temporary file is removed and the
//!   destination is untouched.
//!
//! [`check_outputs`] refuses outputs that are inputs (the same file through
//! any path: symbolic links, `..`, hard links; every shard of a directory)
//! and outputs given twice.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::mmap::{TempRegistration, register_temp};
use gmm_core::human_bytes;

/// Where an [`Output`] goes.
#[derive(Debug)]
enum Target {
    /// Standard output.
    Stdout,
    /// An existing file that is not a regular file, written through (opened
    /// when prepared: a FIFO's reader sees one stream).
    Through(File),
    /// A temporary file renamed over the destination once complete.
    Atomic {
        tmp: tempfile::NamedTempFile,
        _registration: TempRegistration,
    },
}

/// An output file, prepared before the work that fills it (see the module
/// documentation).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("out.txt");
/// let out = gmm_io::Output::prepare(&path).unwrap(); // checked now
/// out.write(|w| w.write_all(b"done\n")).unwrap(); // complete, or absent
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "done\n");
/// assert!(gmm_io::Output::prepare(&dir.path().join("no/such/dir/x")).is_err());
/// ```
#[derive(Debug)]
pub struct Output {
    path: PathBuf,
    target: Target,
}

/// The path meaning standard output.
pub const STDOUT: &str = "-";

impl Output {
    /// Prepares `path` for writing (`-`: standard output).
    pub fn prepare(path: &Path) -> Result<Self> {
        if path.as_os_str() == STDOUT {
            return Self::stdout();
        }
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.is_dir() {
                return Err(Error::unsupported(
                    "this is a directory: give a file name for the output",
                    path,
                ));
            }
            if !meta.is_file() {
                // A device, FIFO or socket: opened now (for a FIFO, this waits
                // for its reader), written at the end.
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| Error::io(e, path))?;
                return Ok(Self {
                    path: path.to_path_buf(),
                    target: Target::Through(f),
                });
            }
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(Error::unsupported(
                format!(
                    "the directory {} does not exist: create it first, or write elsewhere",
                    dir.display()
                ),
                path,
            ));
        }
        let Some(name) = path.file_name() else {
            return Err(Error::unsupported(
                "this path names no file: give a file name for the output",
                path,
            ));
        };
        // The final rename would fail after all the work: refuse a name the
        // file system cannot hold now.
        let most = rustix::fs::statvfs(dir).map_or(255, |s| s.f_namemax);
        if name.len() as u64 > most {
            return Err(Error::unsupported(
                format!(
                    "the file name is {} bytes long and this file system takes at most {most}: \
                     give a shorter name",
                    name.len()
                ),
                path,
            ));
        }
        let mut builder = tempfile::Builder::new();
        builder.prefix(".gmm-").suffix(".tmp");
        // Temporary files are private (0600) by default; outputs are ordinary files.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let tmp = builder.tempfile_in(dir).map_err(|e| Error::io(e, path))?;
        let registration = register_temp(tmp.path());
        Ok(Self {
            path: path.to_path_buf(),
            target: Target::Atomic {
                tmp,
                _registration: registration,
            },
        })
    }

    /// Standard output, checked to be open.
    pub fn stdout() -> Result<Self> {
        use std::os::fd::AsFd;
        // Writes to a closed standard output "succeed" in Rust's std (EBADF is
        // ignored), which would lose the output with exit code 0.
        // A standard output closed at start-up is reopened on /dev/null by
        // Rust's runtime, so that is what a closed one looks like here.
        let stdout = std::io::stdout();
        let fd = stdout.as_fd();
        let null = rustix::fs::fstat(fd).is_ok_and(|st| {
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::CharacterDevice
                && (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev)) == (1, 3)
        });
        if fd.try_clone_to_owned().is_err() || null {
            return Err(Error::unsupported_here(
                "standard output is closed (or /dev/null), so the output would be lost: \
                 give a file to write to (--out FILE; --out /dev/null to discard it)",
            ));
        }
        Ok(Self {
            path: PathBuf::from(STDOUT),
            target: Target::Stdout,
        })
    }

    /// The path given (`-` for standard output).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True for standard output.
    pub fn is_stdout(&self) -> bool {
        matches!(self.target, Target::Stdout)
    }

    /// True when the destination is a regular file (so that its size is what
    /// is written, and disk space matters).
    pub fn is_file(&self) -> bool {
        matches!(self.target, Target::Atomic { .. })
    }

    /// The directory the output's bytes go to, if it is a file.
    pub(crate) fn directory(&self) -> Option<PathBuf> {
        match &self.target {
            Target::Atomic { tmp, .. } => tmp.path().parent().map(Path::to_path_buf),
            _ => None,
        }
    }

    /// Writes the output with `write` (buffered), then completes it: flushed,
    /// synced and renamed into place for a file. Returns what `write` returns.
    pub fn write<R>(self, write: impl FnOnce(&mut dyn Write) -> std::io::Result<R>) -> Result<R> {
        let mut w = self.writer()?;
        match write(&mut w) {
            Ok(r) => {
                w.finish()?;
                Ok(r)
            }
            Err(e) => Err(Error::io(e, &w.path)),
        }
    }

    /// Writes the output with `write` but leaves the destination as it is:
    /// a file is written to its temporary copy and synced, standard output
    /// and devices are held in memory. [`commit`] then puts every staged
    /// output of a command in place, so that a command whose last output
    /// fails leaves none of the others behind.
    pub fn stage(
        self,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<Staged> {
        let path = self.path.clone();
        let err = |e| Error::io(e, &path);
        match self.target {
            Target::Atomic { tmp, _registration } => {
                {
                    let mut w = BufWriter::with_capacity(1 << 16, tmp.as_file());
                    write(&mut w).map_err(err)?;
                    w.flush().map_err(err)?;
                }
                tmp.as_file().sync_all().map_err(err)?;
                Ok(Staged {
                    path,
                    kind: StagedKind::File(tmp, _registration),
                })
            }
            target => {
                let mut bytes = Vec::new();
                write(&mut bytes).map_err(err)?;
                Ok(Staged {
                    path,
                    kind: StagedKind::Held(
                        Output {
                            path: self.path,
                            target,
                        },
                        bytes,
                    ),
                })
            }
        }
    }

    /// The output as a buffered writer, to be completed with
    /// [`OutputWriter::finish`] (dropping it unfinished discards a file's
    /// temporary copy). For outputs written side by side.
    pub fn writer(self) -> Result<OutputWriter> {
        let path = self.path;
        let err = |e| Error::io(e, &path);
        let inner = match self.target {
            Target::Stdout => Inner::Stdout(BufWriter::with_capacity(1 << 16, std::io::stdout())),
            Target::Through(f) => Inner::File(BufWriter::with_capacity(1 << 16, f), None),
            Target::Atomic { tmp, _registration } => {
                let f = tmp.as_file().try_clone().map_err(err)?;
                Inner::File(
                    BufWriter::with_capacity(1 << 16, f),
                    Some((tmp, _registration)),
                )
            }
        };
        Ok(OutputWriter { path, inner })
    }

    /// As [`Output::write`], with a writer that can also seek (to fill in a
    /// header once the data is written). Standard output and devices get a
    /// scratch file in the system's temporary directory, copied to them once
    /// complete.
    pub(crate) fn write_seekable<R>(
        self,
        write: impl FnOnce(&mut BufWriter<&File>) -> std::io::Result<R>,
    ) -> Result<R> {
        let path = self.path.clone();
        let err = |e| Error::io(e, &path);
        match &self.target {
            Target::Atomic { tmp, .. } => {
                let file = tmp.as_file().try_clone().map_err(err)?;
                let r = {
                    let mut w = BufWriter::with_capacity(1 << 16, &file);
                    let r = write(&mut w).map_err(err)?;
                    w.flush().map_err(err)?;
                    r
                };
                drop(file);
                self.writer()?.finish()?;
                Ok(r)
            }
            _ => {
                let scratch = tempfile::tempfile().map_err(err)?;
                let r = {
                    let mut w = BufWriter::with_capacity(1 << 16, &scratch);
                    let r = write(&mut w).map_err(err)?;
                    w.flush().map_err(err)?;
                    r
                };
                let mut src = &scratch;
                src.rewind().map_err(err)?;
                self.write(|w| std::io::copy(&mut src, w).map(|_| ()))?;
                Ok(r)
            }
        }
    }
}

/// An [`Output`] being written (see [`Output::writer`]).
#[derive(Debug)]
pub struct OutputWriter {
    path: PathBuf,
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Stdout(BufWriter<std::io::Stdout>),
    File(
        BufWriter<File>,
        Option<(tempfile::NamedTempFile, TempRegistration)>,
    ),
}

impl Write for OutputWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.inner {
            Inner::Stdout(w) => w.write(buf),
            Inner::File(w, _) => w.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match &mut self.inner {
            Inner::Stdout(w) => w.write_all(buf),
            Inner::File(w, _) => w.write_all(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.inner {
            Inner::Stdout(w) => w.flush(),
            Inner::File(w, _) => w.flush(),
        }
    }
}

impl OutputWriter {
    /// Completes the output but leaves the destination as it is until
    /// [`commit`]: a file is flushed and synced (renamed by `commit`);
    /// standard output and devices, written as they went, are only flushed.
    pub fn stage(self) -> Result<Staged> {
        let path = self.path;
        let err = |e| Error::io(e, &path);
        match self.inner {
            Inner::Stdout(mut w) => {
                w.flush().map_err(err)?;
                Ok(Staged {
                    path: path.clone(),
                    kind: StagedKind::Done,
                })
            }
            Inner::File(w, tmp) => {
                let f = w.into_inner().map_err(|e| err(e.into_error()))?;
                match tmp {
                    Some((tmp, registration)) => {
                        f.sync_all().map_err(err)?;
                        drop(f);
                        Ok(Staged {
                            path: path.clone(),
                            kind: StagedKind::File(tmp, registration),
                        })
                    }
                    None => Ok(Staged {
                        path: path.clone(),
                        kind: StagedKind::Done,
                    }),
                }
            }
        }
    }

    /// Completes the output: flushed; for a file, synced and renamed over the
    /// destination.
    pub fn finish(self) -> Result<()> {
        let path = self.path;
        let err = |e| Error::io(e, &path);
        match self.inner {
            Inner::Stdout(mut w) => w.flush().map_err(err),
            Inner::File(w, tmp) => {
                let f = w.into_inner().map_err(|e| err(e.into_error()))?;
                if let Some((tmp, _registration)) = tmp {
                    f.sync_all().map_err(err)?;
                    drop(f);
                    tmp.persist(&path).map_err(|e| err(e.error))?;
                }
                Ok(())
            }
        }
    }
}

/// An output written but not yet in place (see [`Output::stage`]); dropped
/// without [`commit`], it leaves nothing behind.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    kind: StagedKind,
}

#[derive(Debug)]
enum StagedKind {
    /// A complete, synced temporary file next to the destination.
    File(tempfile::NamedTempFile, TempRegistration),
    /// Standard output or a device: the bytes, written on commit.
    Held(Output, Vec<u8>),
    /// Standard output or a device, written already as it was streamed.
    Done,
}

impl Staged {
    /// The path given for the output.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Puts staged outputs in place: the files first (each a rename, which
/// cannot run out of space), then standard output and devices.
pub fn commit(staged: Vec<Staged>) -> Result<()> {
    let (files, held): (Vec<Staged>, Vec<Staged>) = staged
        .into_iter()
        .partition(|s| matches!(s.kind, StagedKind::File(..)));
    for s in files.into_iter().chain(held) {
        match s.kind {
            StagedKind::File(tmp, _registration) => {
                tmp.persist(&s.path)
                    .map_err(|e| Error::io(e.error, &s.path))?;
            }
            StagedKind::Held(out, bytes) => out.write(|w| w.write_all(&bytes))?,
            StagedKind::Done => {}
        }
    }
    Ok(())
}

/// Refuses to go on when `bytes` would not fit on the file system of `out`
/// (a regular file only; devices and standard output take what they take).
pub fn check_space(out: &Output, bytes: Option<u64>, what: &str) -> Result<()> {
    let Some(dir) = out.directory() else {
        return Ok(());
    };
    let Some(bytes) = bytes else {
        return Err(Error::unsupported(
            format!("{what} would take more than 2^64 bytes: ask for fewer rows"),
            out.path(),
        ));
    };
    if let Ok(s) = rustix::fs::statvfs(&dir) {
        let free = s.f_bavail.saturating_mul(s.f_frsize);
        if bytes > free {
            return Err(Error::unsupported(
                format!(
                    "{what} would take {}, but only {} are free on the disk holding {}: \
                     free space, write elsewhere or ask for fewer rows",
                    human_bytes(bytes),
                    human_bytes(free),
                    dir.display()
                ),
                out.path(),
            ));
        }
    }
    Ok(())
}

/// The identity of an existing file: device and inode.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Checks, before anything is written, that no output is one of the inputs
/// and that no two outputs are the same file.
///
/// `inputs` may name directories: every file in a directory counts as an
/// input (a directory of shards). Files are compared by device and inode, so
/// symbolic links, `..` and hard links are all seen through. `-` (standard
/// output) may be given once.
pub fn check_outputs(outputs: &[&Path], inputs: &[&Path]) -> Result<()> {
    let mut read: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for input in inputs {
        if input.is_dir() {
            if let Ok(entries) = std::fs::read_dir(input) {
                for e in entries.flatten() {
                    let p = e.path();
                    if let Some(id) = identity(&p) {
                        read.entry(id).or_insert(p);
                    }
                }
            }
        } else if let Some(id) = identity(input) {
            read.entry(id).or_insert(input.to_path_buf());
        }
    }
    let mut seen: HashMap<PathBuf, &Path> = HashMap::new();
    let mut seen_ids: HashMap<(u64, u64), &Path> = HashMap::new();
    for &out in outputs {
        if out.as_os_str() == STDOUT {
            if let Some(first) = seen.insert(PathBuf::from(STDOUT), out) {
                return Err(Error::unsupported(
                    format!(
                        "standard output is given for two outputs ({} and -): write at most one of them to -",
                        first.display()
                    ),
                    out,
                ));
            }
            continue;
        }
        if let Some(id) = identity(out) {
            if let Some(input) = read.get(&id) {
                let also = if input.as_path() == out {
                    String::new()
                } else {
                    format!(" (it is {})", input.display())
                };
                return Err(Error::unsupported(
                    format!(
                        "refusing to write over an input file{also}: choose another output path"
                    ),
                    out,
                ));
            }
            let regular = std::fs::metadata(out).is_ok_and(|m| m.is_file());
            if regular && let Some(first) = seen_ids.insert(id, out) {
                return Err(twice(first, out));
            }
        }
        // Outputs that do not exist yet: the same directory and file name.
        let key = normalised(out);
        if let Some(first) = seen.insert(key, out) {
            return Err(twice(first, out));
        }
    }
    Ok(())
}

fn twice(first: &Path, second: &Path) -> Error {
    Error::unsupported(
        format!(
            "{} and {} are the same file, given for two outputs: give each output its own path",
            first.display(),
            second.display()
        ),
        second,
    )
}

/// `path` with its directory made canonical (the file itself may not exist).
fn normalised(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

/// Calls `write` on a buffered temporary file next to `path`, flushes and syncs
/// it, then renames it over `path` (see [`Output`]; `-` is standard output).
/// On any error the temporary file is removed and `path` is untouched.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    Output::prepare(path)?.write(write)
}
