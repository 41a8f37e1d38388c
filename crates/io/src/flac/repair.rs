//! Repairing a FLAC file whose writer was killed: every frame is checked (its header's
//! CRC-8, its subframes walked to find its end, the whole frame's CRC-16 there, numbers
//! in sequence), the file is cut after the last whole one, and STREAMINFO's length is
//! set to what is kept.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::MAX_TOTAL;
use super::crc::crc16_step;
use super::parse::{Walk, frame_header, frame_len};

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

fn invalid(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
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
    let len = file.metadata()?.len();
    if data_at > len {
        return Err(invalid(path, "its metadata blocks are cut off"));
    }
    let packed = u64::from_be_bytes(head[18..26].try_into().expect("8 bytes"));
    let stated = packed & MAX_TOTAL;
    let stream_bits = ((packed >> 36) & 31) as u32 + 1;
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
    // Frame by frame, each walked to its end and checked there: what follows a whole
    // frame (zeros a power cut left, a torn next frame) never counts against it.
    loop {
        w.fill(64)?;
        let Some(h) = frame_header(w.bytes()) else {
            break;
        };
        if next.is_some_and(|n| n != h.number) {
            break;
        }
        let mut want = 1 << 16;
        let end = loop {
            w.fill(want)?;
            match frame_len(w.bytes(), &h, stream_bits) {
                Ok(end) => break Some(end),
                Err(Walk::Short) if !w.eof && w.bytes().len() < MAX_FRAME => {
                    want = w.bytes().len() + (1 << 20);
                }
                Err(_) => break None,
            }
        };
        let Some(end) = end else {
            break;
        };
        if w.bytes()[..end].iter().fold(0, |c, &b| crc16_step(c, b)) != 0 {
            break;
        }
        frames += h.samples;
        next = Some(if h.variable {
            h.number + h.samples
        } else {
            h.number + 1
        });
        w.advance(end);
    }
    let keep = w.base;
    let mut file = w.file;
    let trimmed = len.saturating_sub(keep);
    let changed = stated != frames;
    if trimmed > 0 {
        // Only ever shorter: `keep` is within the file.
        file.set_len(keep)?;
    }
    if changed || trimmed > 0 {
        let mut packed = packed;
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
