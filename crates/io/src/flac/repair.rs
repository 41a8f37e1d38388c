//! Repairing a FLAC file whose writer was killed: every frame is checked (its header's
//! CRC-8, the whole frame's CRC-16, numbers in sequence), the file is cut after the
//! last whole one, and STREAMINFO's length is set to what is kept.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::MAX_TOTAL;
use super::crc::{crc8, crc16_step};

/// What [`repair`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlacRepaired {
    /// Frames (per channel) the file holds now.
    pub frames: u64,
    /// The header's length was wrong (it is right now).
    pub changed: bool,
    /// Bytes of an incomplete or damaged tail cut off.
    pub trimmed: u64,
}

/// Longer than any frame can be (65535 samples × 8 channels × 32 bits, plus headers):
/// a "frame" running past this is damage, not audio.
const MAX_FRAME: usize = 65_535 * 8 * 4 + 1024;

/// The longest frame header: sync and codes (4), a 7-byte number, 2 bytes each of block
/// size and rate, the CRC-8.
const MAX_HEADER: usize = 16;

fn invalid(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

/// A frame header at the start of `b`: (its length, samples per channel, the frame or
/// sample number, variable block size). `None` if `b` does not start with a valid one
/// (or is too short to tell).
fn frame_header(b: &[u8]) -> Option<(usize, u64, u64, bool)> {
    if b.len() < 6 || b[0] != 0xFF || b[1] & 0xFE != 0xF8 {
        return None;
    }
    let variable = b[1] & 1 == 1;
    let (size_code, rate_code) = (b[2] >> 4, b[2] & 15);
    if size_code == 0 || rate_code == 15 || b[3] >> 4 > 10 || b[3] & 1 != 0 {
        return None;
    }
    // The number, UTF-8-style: the leading ones say how many bytes follow.
    let extra = b[4].leading_ones() as usize;
    if extra == 1 || extra > 7 {
        return None;
    }
    let extra = extra.saturating_sub(1);
    let mut number = u64::from(b[4] & (0x7F >> (extra + usize::from(extra > 0))));
    let mut at = 5;
    for _ in 0..extra {
        let c = *b.get(at)?;
        if c & 0xC0 != 0x80 {
            return None;
        }
        number = (number << 6) | u64::from(c & 0x3F);
        at += 1;
    }
    let samples = match size_code {
        1 => 192,
        2..=5 => 576 << (size_code - 2),
        6 => {
            at += 1;
            u64::from(*b.get(at - 1)?) + 1
        }
        7 => {
            at += 2;
            u64::from(u16::from_be_bytes([*b.get(at - 2)?, *b.get(at - 1)?])) + 1
        }
        _ => 256 << (size_code - 8),
    };
    at += match rate_code {
        12 => 1,
        13 | 14 => 2,
        _ => 0,
    };
    (crc8(b.get(..at)?) == *b.get(at)?).then_some((at + 1, samples, number, variable))
}

/// The file from the frame being checked on, read in large pieces as far as asked.
struct Window {
    file: File,
    buf: Vec<u8>,
    /// Where the frame being checked starts in `buf`.
    start: usize,
    /// Its offset in the file.
    base: u64,
    eof: bool,
}

impl Window {
    /// The bytes from the frame being checked on.
    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Makes [`bytes`](Self::bytes) hold at least `n` unless the file ends first.
    fn fill(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() - self.start < n && !self.eof {
            // Only what is still to be checked is kept: moved once per read, not per frame.
            self.buf.drain(..self.start);
            self.start = 0;
            let had = self.buf.len();
            self.buf.resize(had + (1 << 20), 0);
            let got = self.file.read(&mut self.buf[had..])?;
            self.buf.truncate(had + got);
            self.eof = got == 0;
        }
        Ok(())
    }

    /// The frame being checked is whole: the next one starts `by` bytes on.
    fn advance(&mut self, by: usize) {
        self.start += by;
        self.base += by as u64;
    }
}

/// Cuts the FLAC file at `path` after its last whole frame and sets the length in its
/// STREAMINFO to the frames kept. Anything but a FLAC file with a complete STREAMINFO
/// is refused with an error naming the file.
pub fn repair(path: &Path) -> io::Result<FlacRepaired> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut head = [0u8; 42];
    if file.read_exact(&mut head).is_err() || &head[..4] != b"fLaC" {
        return Err(invalid(
            path,
            "not a FLAC file (or its header is incomplete)",
        ));
    }
    if head[4] & 0x7F != 0 || u32::from_be_bytes([0, head[5], head[6], head[7]]) != 34 {
        return Err(invalid(path, "its first metadata block is not STREAMINFO"));
    }
    // The frames start after the last metadata block.
    let mut data_at = 4u64;
    let mut block = [head[4], head[5], head[6], head[7]];
    loop {
        let len = u64::from(u32::from_be_bytes([0, block[1], block[2], block[3]]));
        data_at += 4 + len;
        if block[0] & 0x80 != 0 {
            break;
        }
        file.seek(SeekFrom::Start(data_at))?;
        file.read_exact(&mut block)
            .map_err(|_| invalid(path, "its metadata blocks are cut off"))?;
    }
    let stated = u64::from_be_bytes(head[18..26].try_into().expect("8 bytes")) & MAX_TOTAL;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(data_at))?;
    let mut w = Window {
        file,
        buf: Vec::new(),
        start: 0,
        base: data_at,
        eof: false,
    };
    let mut frames = 0u64;
    let mut next: Option<u64> = None;
    // Frame by frame: each ends where the next valid header begins with the bytes
    // between passing the frame CRC, or at the end of the file if they pass it there.
    'frames: loop {
        w.fill(64)?;
        let Some((header_len, samples, number, variable)) = frame_header(w.bytes()) else {
            break;
        };
        if next.is_some_and(|n| n != number) {
            break;
        }
        let mut crc = w.bytes()[..header_len]
            .iter()
            .fold(0, |c, &b| crc16_step(c, b));
        let mut i = header_len;
        // The last place the bytes so far passed the frame CRC.
        let mut passed = None;
        loop {
            w.fill(i + 64)?;
            let b = w.bytes();
            if crc == 0 && i >= header_len + 2 {
                passed = Some(i);
            }
            if i >= b.len() {
                // Whole if it passes at the end, or where a next header begins that the
                // cut left too short to check.
                let cut_header = |p: usize| {
                    i - p < MAX_HEADER && b[p] == 0xFF && (i - p < 2 || b[p + 1] & 0xFE == 0xF8)
                };
                if let Some(end) = passed.filter(|&p| p == i || cut_header(p)) {
                    frames += samples;
                    w.advance(end);
                }
                break 'frames;
            }
            if crc == 0
                && i >= header_len + 2
                && let Some((_, _, n, v)) = frame_header(&b[i..])
            {
                let expected = if variable {
                    number + samples
                } else {
                    number + 1
                };
                if v == variable && n == expected {
                    frames += samples;
                    next = Some(expected);
                    w.advance(i);
                    continue 'frames;
                }
            }
            if i > MAX_FRAME {
                break 'frames;
            }
            crc = crc16_step(crc, w.bytes()[i]);
            i += 1;
        }
    }
    let keep = w.base;
    let mut file = w.file;
    let trimmed = len - keep;
    let changed = stated != frames;
    if trimmed > 0 {
        file.set_len(keep)?;
    }
    if changed || trimmed > 0 {
        let mut packed = u64::from_be_bytes(head[18..26].try_into().expect("8 bytes"));
        packed = (packed & !MAX_TOTAL) | if frames > MAX_TOTAL { 0 } else { frames };
        file.seek(SeekFrom::Start(18))?;
        file.write_all(&packed.to_be_bytes())?;
        // What the MD5 covered (if it was written) is not what is kept.
        file.write_all(&[0; 16])?;
    }
    file.sync_all()?;
    Ok(FlacRepaired {
        frames,
        changed,
        trimmed,
    })
}
