//! Repairing a WAV or RF64 file whose writer was killed: the sizes in its header are
//! set from the file's length.

use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::writer::RIFF_MAX;

/// What [`repair`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repaired {
    /// Whole frames the file holds now.
    pub frames: u64,
    /// The header's sizes were wrong (they are right now).
    pub changed: bool,
    /// Bytes of an incomplete last frame cut off.
    pub trimmed: u64,
    /// The file is RF64.
    pub rf64: bool,
}

fn invalid(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Fixes the RIFF/RF64, `ds64`, `fact` and `data` sizes of the WAV file at `path` from
/// its length (the data chunk is taken to run to the end, as in every file this
/// project writes), cutting off a partial last frame. Anything but a WAV file whose
/// header is complete is refused with an error naming the file.
pub fn repair(path: &Path) -> io::Result<Repaired> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    let mut head = vec![0u8; len.min(4096) as usize];
    file.read_exact(&mut head)?;
    if head.len() < 12 || !(head.starts_with(b"RIFF") || head.starts_with(b"RF64")) {
        return Err(invalid(path, "not a RIFF/RF64 file"));
    }
    if &head[8..12] != b"WAVE" {
        return Err(invalid(path, "not a WAVE file"));
    }
    let (mut at, mut block_align, mut fact_at, mut ds64_at, mut data_at) =
        (12usize, 0u64, None, None, None);
    while at + 8 <= head.len() {
        let id = &head[at..at + 4];
        let size = u32_at(&head, at + 4) as usize;
        match id {
            b"data" => {
                data_at = Some(at);
                break;
            }
            b"fmt " if at + 8 + 14 <= head.len() => {
                block_align = u64::from(u16_at(&head, at + 8 + 12));
            }
            b"fact" => fact_at = Some(at + 8),
            b"ds64" | b"JUNK" if at == 12 => ds64_at = Some(at),
            _ => {}
        }
        at += 8 + size + size % 2;
    }
    let data_at = data_at.ok_or_else(|| invalid(path, "no data chunk in the header"))?;
    if block_align == 0 {
        return Err(invalid(path, "no usable fmt chunk before the data"));
    }
    let data_start = data_at as u64 + 8;
    let available = len.saturating_sub(data_start);
    let data_bytes = available - available % block_align;
    let trimmed = available - data_bytes;
    let frames = data_bytes / block_align;
    let riff_size = data_start + data_bytes - 8;
    let rf64 = head.starts_with(b"RF64") || riff_size > RIFF_MAX;
    if rf64 && ds64_at.is_none() {
        return Err(invalid(
            path,
            "too big for RIFF and no room for a ds64 chunk",
        ));
    }

    let mut fixed = head.clone();
    let put32 =
        |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    if rf64 {
        let ds = ds64_at.unwrap_or(12);
        fixed[0..4].copy_from_slice(b"RF64");
        put32(&mut fixed, 4, u32::MAX);
        fixed[ds..ds + 4].copy_from_slice(b"ds64");
        fixed[ds + 8..ds + 16].copy_from_slice(&riff_size.to_le_bytes());
        fixed[ds + 16..ds + 24].copy_from_slice(&data_bytes.to_le_bytes());
        fixed[ds + 24..ds + 32].copy_from_slice(&frames.to_le_bytes());
        put32(&mut fixed, data_at + 4, u32::MAX);
        if let Some(f) = fact_at {
            put32(&mut fixed, f, u32::MAX);
        }
    } else {
        put32(&mut fixed, 4, riff_size as u32);
        put32(&mut fixed, data_at + 4, data_bytes as u32);
        if let Some(f) = fact_at {
            put32(&mut fixed, f, frames as u32);
        }
    }
    let changed = fixed != head || trimmed > 0;
    if changed {
        if trimmed > 0 {
            file.set_len(data_start + data_bytes)?;
        }
        file.seek(SeekFrom::Start(0))?;
        let n = data_start as usize;
        file.write_all(&fixed[..n])?;
        file.sync_all()?;
    }
    Ok(Repaired {
        frames,
        changed,
        trimmed,
        rf64,
    })
}
