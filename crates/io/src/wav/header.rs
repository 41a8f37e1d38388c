//! The bytes of a WAV header: RIFF with room for RF64, and the `fmt ` chunk.
//!
//! Layout, the same for every file this project writes (EBU Tech 3306, RF64):
//!
//! ```text
//! "RIFF" size "WAVE"
//! "JUNK" 28   [28 zero bytes]     <- becomes "ds64" when the file outgrows 4 GiB
//! "fmt " 16|18|40 ...
//! "fact" 4    frames               <- float only (every non-PCM file must have one)
//! "data" size samples... [pad byte when the size is odd]
//! ```
//!
//! Reserving the `JUNK` chunk up front is what lets a file be turned into RF64 at the
//! end by rewriting the header in place, without moving gigabytes of samples.

use super::{SampleFormat, WavSpec};

/// Bytes of a `ds64` chunk's body: RIFF size, data size, sample count (u64 each) and
/// the length of an (empty) table of other chunks' sizes (u32).
pub(super) const DS64_BODY: u32 = 28;

/// Offset of the `JUNK`/`ds64` chunk's id.
pub(super) const DS64_AT: u64 = 12;

const WAVE_FORMAT_PCM: u16 = 1;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 3;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// The tail shared by the KSDATAFORMAT_SUBTYPE GUIDs; the first two bytes are the
/// format tag (1 = PCM, 3 = IEEE float).
const SUBTYPE_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// The speakers of a file with `channels` channels, in the usual WAVEFORMATEXTENSIBLE
/// orders (mono: centre; stereo: left, right; ... 5.1; 7.1).
pub fn channel_mask(channels: u16) -> u32 {
    const FL: u32 = 0x1;
    const FR: u32 = 0x2;
    const FC: u32 = 0x4;
    const LFE: u32 = 0x8;
    const BL: u32 = 0x10;
    const BR: u32 = 0x20;
    const BC: u32 = 0x100;
    const SL: u32 = 0x200;
    const SR: u32 = 0x400;
    match channels {
        1 => FC,
        2 => FL | FR,
        3 => FL | FR | FC,
        4 => FL | FR | BL | BR,
        5 => FL | FR | FC | BL | BR,
        6 => FL | FR | FC | LFE | BL | BR,
        7 => FL | FR | FC | LFE | BL | BR | BC,
        8 => FL | FR | FC | LFE | BL | BR | SL | SR,
        // No standard layout: leave the speakers unassigned.
        _ => 0,
    }
}

/// Whether `spec` needs WAVE_FORMAT_EXTENSIBLE, as Microsoft's rules have it: more
/// than two channels (it is where the channel mask lives) or more than 16 bits of
/// integer. Float in mono or stereo is plain WAVE_FORMAT_IEEE_FLOAT with an empty
/// extension: sox 14.4 reads the extensible float header but warns "wave header missing
/// extended part of fmt chunk" over it (a sox quirk), and warns the same over a float
/// `fmt ` chunk without the extension's size field (what hound writes).
fn extensible(spec: &WavSpec) -> bool {
    spec.channels > 2 || matches!(spec.format, SampleFormat::S24 | SampleFormat::S32)
}

/// A header and where its size fields are.
pub(super) struct Header {
    /// The bytes, up to and including the data chunk's size field.
    pub bytes: Vec<u8>,
    /// Offset of the `fact` chunk's frame count, for float files.
    pub fact_at: Option<u64>,
}

/// The header for a file whose sizes are not known yet (zero).
pub(super) fn header(spec: &WavSpec) -> Header {
    let mut h = Vec::with_capacity(80);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(b"WAVE");
    h.extend_from_slice(b"JUNK");
    h.extend_from_slice(&DS64_BODY.to_le_bytes());
    h.extend_from_slice(&[0; DS64_BODY as usize]);
    let bytes = spec.format.bytes_per_sample();
    let block_align = u32::from(spec.channels) * u32::from(bytes);
    let bits = 8 * bytes;
    let ext = extensible(spec);
    let float = spec.format == SampleFormat::F32;
    let (tag, fmt_len) = match (ext, float) {
        (true, _) => (WAVE_FORMAT_EXTENSIBLE, 40u32),
        (false, true) => (WAVE_FORMAT_IEEE_FLOAT, 18),
        (false, false) => (WAVE_FORMAT_PCM, 16),
    };
    h.extend_from_slice(b"fmt ");
    h.extend_from_slice(&fmt_len.to_le_bytes());
    h.extend_from_slice(&tag.to_le_bytes());
    h.extend_from_slice(&spec.channels.to_le_bytes());
    h.extend_from_slice(&spec.sample_rate.to_le_bytes());
    h.extend_from_slice(&(spec.sample_rate * block_align).to_le_bytes());
    h.extend_from_slice(&(block_align as u16).to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    if ext {
        h.extend_from_slice(&22u16.to_le_bytes()); // cbSize: the extension's bytes
        h.extend_from_slice(&bits.to_le_bytes()); // valid bits: all of them
        h.extend_from_slice(&channel_mask(spec.channels).to_le_bytes());
        let subtype: u16 = if spec.format == SampleFormat::F32 {
            3
        } else {
            1
        };
        h.extend_from_slice(&subtype.to_le_bytes());
        h.extend_from_slice(&SUBTYPE_TAIL);
    } else if float {
        h.extend_from_slice(&0u16.to_le_bytes()); // cbSize: no extension
    }
    let mut fact_at = None;
    if float {
        h.extend_from_slice(b"fact");
        h.extend_from_slice(&4u32.to_le_bytes());
        fact_at = Some(h.len() as u64);
        h.extend_from_slice(&0u32.to_le_bytes());
    }
    h.extend_from_slice(b"data");
    h.extend_from_slice(&0u32.to_le_bytes());
    Header { bytes: h, fact_at }
}
