//! Noticing edits of the session file, and judging them only once they are complete.
//!
//! An editor that writes in place (not through a rename) leaves the file half-written
//! for a moment; judging it then would reject a perfectly good edit ("missing field
//! `version`"). So a change is taken only when two reads a check apart agree. The host's
//! own writes (autosave) are recognised by content, never mistaken for a user's edit.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the file is read while it looks changed, and checked at all.
pub const CHECK_EVERY: Duration = Duration::from_millis(200);

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// The file has new, complete content (read twice, the same both times).
    Edited(String),
    /// The file is gone or unreadable (once per disappearance).
    Gone,
}

/// Watches one session file.
#[derive(Debug)]
pub struct Watch {
    path: PathBuf,
    /// The content the running session came from (or the host wrote itself).
    known: Option<String>,
    /// A new content seen once, waiting for a second read to agree.
    pending: Option<String>,
    gone: bool,
    next_check: Instant,
}

impl Watch {
    /// Watches `path`, whose content now is what the running session was loaded from.
    pub fn new(path: &Path) -> Self {
        Watch {
            path: path.to_path_buf(),
            known: std::fs::read_to_string(path).ok(),
            pending: None,
            gone: false,
            next_check: Instant::now() + CHECK_EVERY,
        }
    }

    /// Watches `path`, whose running session was loaded from `content` (read before
    /// now: an edit made since is a change the first check finds).
    pub fn from_content(path: &Path, content: String) -> Self {
        Watch {
            path: path.to_path_buf(),
            known: Some(content),
            pending: None,
            gone: false,
            next_check: Instant::now() + CHECK_EVERY,
        }
    }

    /// The file watched.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `content` as the file's known content (the host wrote it, or applied it).
    pub fn known(&mut self, content: String) {
        self.known = Some(content);
        self.pending = None;
    }

    /// Checks the file (at most every [`CHECK_EVERY`]); returns a change once.
    pub fn check(&mut self) -> Option<FileChange> {
        let now = Instant::now();
        if now < self.next_check {
            return None;
        }
        self.next_check = now + CHECK_EVERY;
        self.check_now()
    }

    /// Checks the file now.
    pub fn check_now(&mut self) -> Option<FileChange> {
        let Ok(content) = std::fs::read_to_string(&self.path) else {
            self.pending = None;
            if self.gone {
                return None;
            }
            self.gone = true;
            // Whatever comes back is news, even the same text.
            self.known = None;
            return Some(FileChange::Gone);
        };
        self.gone = false;
        if self.known.as_ref() == Some(&content) {
            self.pending = None;
            return None;
        }
        if self.pending.as_ref() == Some(&content) {
            self.pending = None;
            self.known = Some(content.clone());
            return Some(FileChange::Edited(content));
        }
        self.pending = Some(content);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("troubadour-watch-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("s.toml")
    }

    #[test]
    fn an_edit_is_taken_once_two_reads_agree() {
        let path = temp("agree");
        std::fs::write(&path, "version = 1\n").unwrap();
        let mut w = Watch::new(&path);
        assert_eq!(w.check_now(), None);
        // Half written: seen once, not judged.
        std::fs::write(&path, "vers").unwrap();
        assert_eq!(w.check_now(), None);
        // Complete now, but only seen once.
        std::fs::write(&path, "version = 1\n# edited\n").unwrap();
        assert_eq!(w.check_now(), None);
        assert_eq!(
            w.check_now(),
            Some(FileChange::Edited("version = 1\n# edited\n".into()))
        );
        assert_eq!(w.check_now(), None);
    }

    #[test]
    fn the_hosts_own_write_is_no_edit() {
        let path = temp("own");
        std::fs::write(&path, "a").unwrap();
        let mut w = Watch::new(&path);
        std::fs::write(&path, "b").unwrap();
        w.known("b".into());
        assert_eq!(w.check_now(), None);
        assert_eq!(w.check_now(), None);
    }

    #[test]
    fn a_deleted_file_is_reported_once_and_its_return_is_an_edit() {
        let path = temp("gone");
        std::fs::write(&path, "a").unwrap();
        let mut w = Watch::new(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(w.check_now(), Some(FileChange::Gone));
        assert_eq!(w.check_now(), None);
        std::fs::write(&path, "a").unwrap();
        assert_eq!(w.check_now(), None);
        assert_eq!(w.check_now(), Some(FileChange::Edited("a".into())));
    }
}
