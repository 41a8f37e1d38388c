//! Writing FLAC files for takes and file sinks: lossless and about half the size of a
//! 24-bit WAV, for the long recordings podcasters keep.
//!
//! - [`FlacWriter`]: a FLAC stream of fixed-size blocks, encoded by our own encoder
//!   (fixed predictors and partitioned Rice coding; see `encode.rs` for why not
//!   `flacenc`), its one metadata block a STREAMINFO rewritten in place every few
//!   seconds, as a WAV header is.
//! - [`repair`]: a file whose writer was killed: cut after its last whole frame (each
//!   frame's CRC-16 checked) and its header's length set from the frames kept.

mod crc;
mod encode;
mod parse;
mod repair;
mod writer;

pub use repair::{FlacRepaired, repair};
pub use writer::{FlacSpec, FlacWriter};

/// Samples per channel in every frame but the last: libFLAC's default, a good balance
/// of compression and how much a crash can lose.
pub const BLOCK: usize = 4096;

/// FLAC's channel limit.
pub const MAX_CHANNELS: usize = 8;

/// `fLaC`, the STREAMINFO block's header and its 34 bytes: where the first frame starts
/// in every file written here.
pub const HEADER_LEN: usize = 4 + 4 + 34;

/// The largest length STREAMINFO can state (36 bits); past it, it says "unknown".
const MAX_TOTAL: u64 = (1 << 36) - 1;

/// `fLaC` and a STREAMINFO block, the only (so the last) metadata block, for a stream of
/// `spec` with `total` frames, frames of `frame_sizes` bytes (least, most; `None`:
/// unknown) and the audio's `md5` (zero: not computed).
fn streaminfo(
    spec: &FlacSpec,
    total: u64,
    frame_sizes: Option<(u32, u32)>,
    md5: [u8; 16],
) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[..4].copy_from_slice(b"fLaC");
    // Last metadata block, type 0 (STREAMINFO), 34 bytes.
    b[4..8].copy_from_slice(&[0x80, 0, 0, 34]);
    let block = (BLOCK as u16).to_be_bytes();
    b[8..10].copy_from_slice(&block);
    b[10..12].copy_from_slice(&block);
    let (least, most) = frame_sizes.unwrap_or((0, 0));
    b[12..15].copy_from_slice(&least.to_be_bytes()[1..]);
    b[15..18].copy_from_slice(&most.to_be_bytes()[1..]);
    let total = if total > MAX_TOTAL { 0 } else { total };
    let packed = (u64::from(spec.sample_rate) << 44)
        | (u64::from(spec.channels - 1) << 41)
        | (u64::from(spec.bits - 1) << 36)
        | total;
    b[18..26].copy_from_slice(&packed.to_be_bytes());
    b[26..42].copy_from_slice(&md5);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaminfo_packs_rate_channels_bits_and_length_where_the_format_puts_them() {
        let spec = FlacSpec {
            channels: 2,
            sample_rate: 48_000,
            bits: 24,
        };
        let b = streaminfo(&spec, 123_456_789, Some((10, 70_000)), [7; 16]);
        assert_eq!(&b[..8], b"fLaC\x80\x00\x00\x22");
        assert_eq!(u16::from_be_bytes([b[8], b[9]]), 4096);
        assert_eq!(u32::from_be_bytes([0, b[15], b[16], b[17]]), 70_000);
        let packed = u64::from_be_bytes(b[18..26].try_into().unwrap());
        assert_eq!(packed >> 44, 48_000);
        assert_eq!((packed >> 41) & 7, 1);
        assert_eq!((packed >> 36) & 31, 23);
        assert_eq!(packed & MAX_TOTAL, 123_456_789);
        assert_eq!(b[41], 7);
        // Too long to state: "unknown".
        let b = streaminfo(&spec, 1 << 36, None, [0; 16]);
        assert_eq!(
            u64::from_be_bytes(b[18..26].try_into().unwrap()) & MAX_TOTAL,
            0
        );
    }
}
