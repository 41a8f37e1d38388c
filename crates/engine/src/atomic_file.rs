//! Files that appear whole or not at all: the project's one way to write a file that a
//! user or a later run reads (sessions, rendered and resampled WAVs).
//!
//! The data goes to a temporary file in the target's own directory (a rename is atomic
//! only within one file system), which is flushed to disk, renamed over the target, and
//! the directory flushed too so the rename itself survives a power cut. A crash leaves
//! the old file or the new one, never half of one; an error or a drop before
//! [`AtomicFile::commit`] removes the temporary file (so a command that stops on a
//! signal by unwinding to its end, as `render` and `resample` do, leaves none).
//!
//! ```
//! use std::io::Write;
//! use troubadour_engine::atomic_file::{AtomicFile, write_atomic};
//!
//! let dir = std::env::temp_dir().join(format!("atomic-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("a.txt");
//! write_atomic(&path, b"one").unwrap();
//!
//! let mut f = AtomicFile::create(&path).unwrap();
//! f.write_all(b"two").unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), b"one"); // not yet
//! f.commit().unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), b"two");
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The temporary name for `path`: `.NAME.partial` beside it, hidden as an unfinished
/// file should be. Fails when `path` names no file (a trailing slash, `..`).
pub fn temporary_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().filter(|_| !ends_with_separator(path));
    let name = name.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names a directory, not a file", path.display()),
        )
    })?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(".partial");
    Ok(path.with_file_name(tmp))
}

fn ends_with_separator(path: &Path) -> bool {
    path.as_os_str()
        .to_string_lossy()
        .ends_with(std::path::MAIN_SEPARATOR)
}

fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A file being written under a temporary name until [`commit`](Self::commit)
/// renames it into place. Dropping it uncommitted removes the temporary file.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<File>,
    temporary: PathBuf,
    path: PathBuf,
}

impl AtomicFile {
    /// Starts writing `path`. Its directory must exist; an old file at `path` stays
    /// untouched until the commit.
    pub fn create(path: &Path) -> io::Result<Self> {
        let temporary = temporary_path(path)?;
        let file = File::create(&temporary)?;
        Ok(AtomicFile {
            file: Some(file),
            temporary,
            path: path.to_path_buf(),
        })
    }

    /// Where the data is going.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&mut self) -> &mut File {
        self.file
            .as_mut()
            .expect("an AtomicFile has its file until commit")
    }

    /// Flushes the data to disk and renames it over `path`; returns `path`.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let file = self
            .file
            .take()
            .expect("an AtomicFile has its file until commit");
        let result = (|| {
            file.sync_all()?;
            drop(file);
            std::fs::rename(&self.temporary, &self.path)?;
            // Make the rename durable. Some file systems cannot sync a directory; the
            // data itself is on disk by now, so that is not worth failing for.
            if let Ok(d) = File::open(directory_of(&self.path)) {
                let _ = d.sync_all();
            }
            Ok(self.path.clone())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.temporary);
        }
        result
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file().seek(pos)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// Writes `bytes` to `path` atomically (see the module's docs).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("troubadour-atomic-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn entries(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn the_old_file_stays_until_commit_and_a_drop_leaves_nothing() {
        let d = dir("drop");
        let path = d.join("x.wav");
        write_atomic(&path, b"old").unwrap();
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
        assert_eq!(entries(&d), [".x.wav.partial", "x.wav"]);
        drop(f);
        assert_eq!(entries(&d), ["x.wav"]);
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_temporary_file_is_beside_the_target_and_a_directory_is_refused() {
        let d = dir("where");
        let sub = d.join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert_eq!(
            temporary_path(&sub.join("rs.wav")).unwrap(),
            sub.join(".rs.wav.partial")
        );
        let slash = PathBuf::from(format!("{}/", sub.display()));
        let e = AtomicFile::create(&slash).unwrap_err();
        assert!(e.to_string().contains("names a directory"), "{e}");
        assert_eq!(entries(&sub), Vec::<String>::new());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
