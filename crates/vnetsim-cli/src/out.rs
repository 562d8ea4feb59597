//! Where the command line's output goes: stdout that never panics, and files that appear whole.
//!
//! What it is for: `outln!`/`out!` write to stdout like `println!`/`print!`, but a closed pipe
//! (`vnetsim rules ... | head -1`) silences the rest of the output quietly, as Unix tools do, and
//! any other write error (`> /dev/full`) is reported once on stderr and turns the exit code into
//! 2. [`OutputFile`] writes a report, capture or plot into a temporary file beside its target and
//! renames it into place when complete, so a full disk or a killed run never leaves a truncated
//! file that looks complete; [`check_distinct`] refuses an output that would overwrite an input
//! or another output. What it is not: formatting (tables and JSON are made elsewhere).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

/// Nothing went wrong with stdout.
const FINE: u8 = 0;
/// The reader went away: further output is dropped, quietly.
const CLOSED: u8 = 1;
/// Writing failed otherwise (the message is printed): the command exits 2.
const FAILED: u8 = 2;

static STDOUT: AtomicU8 = AtomicU8::new(FINE);

/// `print!` that never panics (see the module header).
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::write_stdout(format_args!($($arg)*), false) };
}

/// `println!` that never panics (see the module header).
macro_rules! outln {
    () => { $crate::out::write_stdout(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::write_stdout(format_args!($($arg)*), true) };
}

pub(crate) use {out, outln};

/// Writes to stdout unless it failed before; records the first failure.
pub fn write_stdout(args: std::fmt::Arguments<'_>, newline: bool) {
    if STDOUT.load(Ordering::Relaxed) != FINE {
        return;
    }
    let mut lock = io::stdout().lock();
    let result = lock.write_fmt(args).and_then(|()| {
        if newline {
            lock.write_all(b"\n")
        } else {
            Ok(())
        }
    });
    if let Err(e) = result {
        record(e);
    }
}

fn record(e: io::Error) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        STDOUT.store(CLOSED, Ordering::Relaxed);
    } else if STDOUT.swap(FAILED, Ordering::Relaxed) != FAILED {
        eprintln!("error: cannot write to standard output: {e}");
    }
}

/// Streams a large output (a report's JSON) to stdout through a buffer, without building it
/// in memory first; errors are recorded as [`write_stdout`] records them.
pub fn write_stdout_with(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) {
    if STDOUT.load(Ordering::Relaxed) != FINE {
        return;
    }
    let stdout = io::stdout();
    let mut buffered = BufWriter::with_capacity(1 << 16, stdout.lock());
    if let Err(e) = write(&mut buffered).and_then(|()| buffered.flush()) {
        record(e);
    }
}

/// Whether stdout is closed or failed: further output would be dropped, so work that only
/// produces output (the matrix's CSV rows, say) may stop.
pub fn stdout_gone() -> bool {
    STDOUT.load(Ordering::Relaxed) != FINE
}

/// Flushes stdout and says whether everything written reached it (a closed pipe counts as
/// reached: the reader chose to stop). `false` means the command must exit 2.
pub fn finish_stdout() -> bool {
    if STDOUT.load(Ordering::Relaxed) == FINE
        && let Err(e) = io::stdout().lock().flush()
    {
        record(e);
    }
    STDOUT.load(Ordering::Relaxed) != FAILED
}

/// A file written under a temporary name in its target's directory and renamed into place by
/// [`OutputFile::commit`]. Dropped without a commit, the temporary file is removed. A target
/// that exists and is not a regular file (`/dev/stdout`, a FIFO, a device) is written directly:
/// renaming over it would replace the device.
pub struct OutputFile {
    target: PathBuf,
    /// The temporary file, or `None` when writing the target directly.
    temp: Option<PathBuf>,
    writer: Option<BufWriter<File>>,
    /// Bytes handed to the file since its write-back was last started.
    unsynced: usize,
}

/// Bytes after which [`OutputFile`] starts writing the temporary file back to disk, so that
/// the sync of [`OutputFile::commit`] finds little left to do: the write-back of a 68 MB
/// report overlaps its serialization instead of following it.
const WRITE_BACK_EVERY: usize = 8 << 20;

impl OutputFile {
    /// Creates the temporary file for `target`.
    pub fn create(target: &Path) -> io::Result<OutputFile> {
        if let Ok(meta) = std::fs::metadata(target) {
            if meta.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "is a directory, not a file",
                ));
            }
            if !meta.is_file() {
                let file = std::fs::OpenOptions::new().write(true).open(target)?;
                return Ok(OutputFile {
                    target: target.to_path_buf(),
                    temp: None,
                    writer: Some(BufWriter::new(file)),
                    unsynced: 0,
                });
            }
        }
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.partial", std::process::id()));
        let temp = target.with_file_name(temp_name);
        let file = File::create(&temp)?;
        Ok(OutputFile {
            target: target.to_path_buf(),
            temp: Some(temp),
            writer: Some(BufWriter::new(file)),
            unsynced: 0,
        })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> io::Result<()> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        match &self.temp {
            Some(temp) => {
                file.sync_all()?;
                drop(file);
                std::fs::rename(temp, &self.target)
            }
            None => Ok(()),
        }
    }

    /// Writes `target` whole through `write` (streamed, not built in memory first), or not at
    /// all: on an error the temporary file is removed.
    pub fn write_with(
        target: &Path,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut f = OutputFile::create(target)?;
        write(&mut f)?;
        f.commit()
    }

    /// Writes `bytes` to `target` whole, or not at all.
    pub fn write_whole(target: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut f = OutputFile::create(target)?;
        f.write_all(bytes)?;
        f.commit()
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(w) = self.writer.as_mut() else {
            return Err(io::Error::other("output file already committed"));
        };
        let n = w.write(buf)?;
        self.unsynced += n;
        if self.unsynced >= WRITE_BACK_EVERY && self.temp.is_some() {
            self.unsynced = 0;
            start_write_back(w.get_ref());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.writer.take().is_some()
            && let Some(temp) = &self.temp
        {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Starts writing back what was written to `file` so far, without waiting for it (a hint:
/// the data is synced by [`OutputFile::commit`] either way).
#[cfg(target_os = "linux")]
fn start_write_back(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain system call on a file descriptor this `File` owns and keeps open; it
    // reads and writes no memory of this process.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_write_back(_file: &File) {}

/// The identity of a path for comparison: its canonical form when it exists, otherwise its
/// directory's canonical form joined with its name (an output not written yet).
fn identity(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

/// Refuses outputs that would overwrite an input or one another. `inputs` and `outputs` are
/// (flag, path) pairs, e.g. `("scenario", file)` and `("--report", out)`.
pub fn check_distinct(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<(), String> {
    for (i, (flag, out)) in outputs.iter().enumerate() {
        let id = identity(out);
        if let Some((what, input)) = inputs.iter().find(|(_, p)| identity(p) == id) {
            return Err(format!(
                "{flag} {}: this is the {what} {}; refusing to overwrite an input",
                out.display(),
                input.display()
            ));
        }
        if let Some((other, _)) = outputs[..i].iter().find(|(_, p)| identity(p) == id) {
            return Err(format!(
                "{flag} {} and {other} name the same file; give each output its own path",
                out.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_file_appears_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("r.json");
        let mut f = OutputFile::create(&target).unwrap();
        f.write_all(b"{}").unwrap();
        assert!(!target.exists(), "nothing at the target before the commit");
        f.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"{}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }

    #[test]
    fn an_abandoned_output_file_leaves_the_old_one_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("r.json");
        std::fs::write(&target, b"old").unwrap();
        {
            let mut f = OutputFile::create(&target).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn outputs_must_not_name_an_input_or_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let scenario = dir.path().join("x.yaml");
        std::fs::write(&scenario, "name: x").unwrap();
        let same = dir.path().join(".").join("x.yaml");
        let err = check_distinct(&[("scenario", &scenario)], &[("--report", &same)]).unwrap_err();
        assert!(err.contains("refusing to overwrite an input"), "{err}");
        let a = dir.path().join("out");
        let err = check_distinct(&[], &[("--pcap", &a), ("--report", &a)]).unwrap_err();
        assert!(err.contains("--report") && err.contains("--pcap"), "{err}");
        let b = dir.path().join("other");
        assert!(
            check_distinct(
                &[("scenario", &scenario)],
                &[("--pcap", &a), ("--report", &b)]
            )
            .is_ok()
        );
    }

    #[test]
    fn a_device_is_written_in_place_never_replaced() {
        let mut f = OutputFile::create(Path::new("/dev/null")).unwrap();
        f.write_all(b"x").unwrap();
        f.commit().unwrap();
        let meta = std::fs::metadata("/dev/null").unwrap();
        assert!(!meta.is_file(), "/dev/null is still a device");
    }
}
