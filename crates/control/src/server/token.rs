//! The access token for a server that listens beyond loopback: 32 random bytes as hex,
//! kept in a file only its owner can read, so a restart keeps the token that remote
//! pages and scripts were given.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// `$XDG_CONFIG_HOME/troubadour`, or `$HOME/.config/troubadour` (or
/// `./.config/troubadour` when neither is set).
pub fn token_dir() -> PathBuf {
    let from = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty());
    match (from("XDG_CONFIG_HOME"), from("HOME")) {
        (Some(config), _) => PathBuf::from(config).join("troubadour"),
        (None, Some(home)) => PathBuf::from(home).join(".config").join("troubadour"),
        (None, None) => PathBuf::from(".config").join("troubadour"),
    }
}

/// The token in `dir/token`, creating it (mode 0600, in a directory made 0700) when
/// absent. Returns the token, the file's path and whether it was created now.
///
/// Refuses a token file that its group or others may read or write: anyone who could
/// read it could drive the mixer, and anyone who could write it could choose the token.
pub fn load_or_create_token(dir: &Path) -> std::io::Result<(String, PathBuf, bool)> {
    let path = dir.join("token");
    match std::fs::metadata(&path) {
        Ok(meta) => {
            if meta.mode() & 0o077 != 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!(
                        "{} may be read or changed by others (mode {:o}); fix it with `chmod 600 {}`, or delete it to get a new token",
                        path.display(),
                        meta.mode() & 0o777,
                        path.display()
                    ),
                ));
            }
            let token = read_token(&path)?;
            Ok((token, path, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            let token = random_hex(32)?;
            // create_new: if another process made one meanwhile, fail rather than
            // overwrite a token someone was already given.
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| annotate(&path, e))?;
            writeln!(file, "{token}").map_err(|e| annotate(&path, e))?;
            file.sync_all().map_err(|e| annotate(&path, e))?;
            Ok((token, path, true))
        }
        Err(e) => Err(annotate(&path, e)),
    }
}

fn read_token(path: &Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| annotate(path, e))?;
    let token = text.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} holds no token (one line of hex); delete it to get a new one",
                path.display()
            ),
        ));
    }
    Ok(token.to_string())
}

fn annotate(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// `bytes` random bytes from the kernel, as lower-case hex.
fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "troubadour-token-{name}-{}-{}",
            std::process::id(),
            random_hex(4).unwrap()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn created_private_then_reused() {
        let dir = scratch("reuse").join("troubadour");
        let (token, path, created) = load_or_create_token(&dir).unwrap();
        assert!(created);
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        let (again, _, created) = load_or_create_token(&dir).unwrap();
        assert!(!created);
        assert_eq!(again, token);
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    #[test]
    fn a_readable_token_is_refused_with_the_fix() {
        let dir = scratch("open");
        let (_, path, _) = load_or_create_token(&dir).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create_token(&dir).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
