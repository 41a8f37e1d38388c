//! Where a FLAC frame ends: its header read, then every subframe walked (constant,
//! verbatim, fixed and LPC, with partitioned Rice residuals), so the repair can check
//! the frame's CRC-16 at its true end whatever follows it.

use super::crc::crc8;

/// What a frame header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FrameHeader {
    /// Bytes of the header, its CRC-8 included.
    pub len: usize,
    /// Samples per channel.
    pub samples: u64,
    /// Frame number (fixed block size) or first sample's number (variable).
    pub number: u64,
    pub variable: bool,
    /// Channel assignment: 0–7 independent (channels − 1), 8 left/side, 9 side/right,
    /// 10 mid/side.
    assignment: u8,
    /// Bits per sample; `None`: as STREAMINFO says.
    bits: Option<u32>,
}

/// A frame header at the start of `b`, or `None` if `b` does not start with a valid one
/// (or is too short to tell).
pub(super) fn frame_header(b: &[u8]) -> Option<FrameHeader> {
    if b.len() < 6 || b[0] != 0xFF || b[1] & 0xFE != 0xF8 {
        return None;
    }
    let variable = b[1] & 1 == 1;
    let (size_code, rate_code) = (b[2] >> 4, b[2] & 15);
    let (assignment, size_bits) = (b[3] >> 4, (b[3] >> 1) & 7);
    if size_code == 0 || rate_code == 15 || assignment > 10 || b[3] & 1 != 0 || size_bits == 3 {
        return None;
    }
    let bits = match size_bits {
        0 => None,
        1 => Some(8),
        2 => Some(12),
        4 => Some(16),
        5 => Some(20),
        6 => Some(24),
        _ => Some(32),
    };
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
    (crc8(b.get(..at)?) == *b.get(at)?).then_some(FrameHeader {
        len: at + 1,
        samples,
        number,
        variable,
        assignment,
        bits,
    })
}

/// Why a frame could not be walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Walk {
    /// The bytes end inside it: more may follow in the file.
    Short,
    /// It breaks the format: damage.
    Bad,
}

/// Bits of a byte slice, most significant first.
struct Bits<'a> {
    b: &'a [u8],
    /// In bits.
    pos: u64,
}

impl Bits<'_> {
    fn left(&self) -> u64 {
        self.b.len() as u64 * 8 - self.pos
    }

    /// The next 64 bits from `pos` (zeros past the end).
    fn peek64(&self) -> u64 {
        let i = (self.pos / 8) as usize;
        let mut w = [0u8; 8];
        let have = self.b.len().saturating_sub(i).min(8);
        w[..have].copy_from_slice(&self.b[i..i + have]);
        u64::from_be_bytes(w) << (self.pos % 8)
    }

    fn read(&mut self, n: u32) -> Result<u64, Walk> {
        debug_assert!(n <= 32);
        if u64::from(n) > self.left() {
            return Err(Walk::Short);
        }
        let v = if n == 0 { 0 } else { self.peek64() >> (64 - n) };
        self.pos += u64::from(n);
        Ok(v)
    }

    fn skip(&mut self, n: u64) -> Result<(), Walk> {
        if n > self.left() {
            return Err(Walk::Short);
        }
        self.pos += n;
        Ok(())
    }

    /// Zeros up to and including a one: their count.
    fn unary(&mut self) -> Result<u64, Walk> {
        let mut count = 0;
        loop {
            let left = self.left();
            if left == 0 {
                return Err(Walk::Short);
            }
            // At most 57 bits at a time, so the shift into `peek64` loses none.
            let lz = u64::from(self.peek64().leading_zeros()).min(57);
            if lz < 57 && lz < left {
                self.pos += lz + 1;
                return Ok(count + lz);
            }
            let step = lz.min(left);
            self.pos += step;
            count += step;
        }
    }
}

/// The length in bytes (CRC-16 included) of the frame at the start of `b` whose header
/// is `h`, in a stream of `stream_bits` per sample, found by walking its subframes.
pub(super) fn frame_len(b: &[u8], h: &FrameHeader, stream_bits: u32) -> Result<usize, Walk> {
    let bits = h.bits.unwrap_or(stream_bits);
    let channels = if h.assignment < 8 {
        u32::from(h.assignment) + 1
    } else {
        2
    };
    let n = h.samples;
    let mut r = Bits {
        b,
        pos: 8 * h.len as u64,
    };
    for c in 0..channels {
        // The side channel carries one bit more.
        let side = matches!((h.assignment, c), (8, 1) | (9, 0) | (10, 1));
        subframe(&mut r, bits + u32::from(side), n)?;
    }
    let end = r.pos.div_ceil(8) as usize + 2;
    if end > b.len() {
        return Err(Walk::Short);
    }
    Ok(end)
}

fn subframe(r: &mut Bits, mut bits: u32, n: u64) -> Result<(), Walk> {
    if r.read(1)? != 0 {
        return Err(Walk::Bad);
    }
    let kind = r.read(6)?;
    if r.read(1)? == 1 {
        let wasted = r.unary()? + 1;
        if wasted >= u64::from(bits) {
            return Err(Walk::Bad);
        }
        bits -= wasted as u32;
    }
    let bits = u64::from(bits);
    match kind {
        0 => r.skip(bits),
        1 => r.skip(bits * n),
        8..=12 => {
            let order = kind - 8;
            r.skip(bits * order)?;
            residual(r, n, order)
        }
        32..=63 => {
            let order = kind - 31;
            r.skip(bits * order)?;
            let precision = r.read(4)?;
            if precision == 15 {
                return Err(Walk::Bad);
            }
            r.skip(5 + (precision + 1) * order)?;
            residual(r, n, order)
        }
        _ => Err(Walk::Bad),
    }
}

fn residual(r: &mut Bits, n: u64, order: u64) -> Result<(), Walk> {
    let method = r.read(2)?;
    if method > 1 {
        return Err(Walk::Bad);
    }
    let partition_order = r.read(4)?;
    let parts = 1u64 << partition_order;
    if !n.is_multiple_of(parts) || n / parts < order {
        return Err(Walk::Bad);
    }
    let width = if method == 0 { 4 } else { 5 };
    let escape = (1 << width) - 1;
    for p in 0..parts {
        let m = n / parts - if p == 0 { order } else { 0 };
        let k = r.read(width)?;
        if k == escape {
            let raw = r.read(5)?;
            r.skip(raw * m)?;
        } else {
            for _ in 0..m {
                r.unary()?;
                r.skip(k)?;
            }
        }
    }
    Ok(())
}
