//! Properties of the FLAC writer and repair on inputs nobody chose: any samples come
//! back through sox within the dither; any bytes after a STREAMINFO, or any damage to a
//! real file, give the repair an answer (whole frames kept or an error), never a panic,
//! and what it keeps passes libFLAC's check.

use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

use proptest::prelude::*;
use troubadour_io::flac::{FlacSpec, FlacWriter, HEADER_LEN, repair};

fn path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "troubadour-flac-prop-{tag}-{}.flac",
        std::process::id()
    ))
}

fn encode(samples: &[f32], channels: u16, bits: u8) -> Vec<u8> {
    let spec = FlacSpec {
        channels,
        sample_rate: 44_100,
        bits,
    };
    let mut w = FlacWriter::new(Cursor::new(Vec::new()), spec, 5).unwrap();
    w.write_interleaved_f32(samples).unwrap();
    w.finish().unwrap().into_inner()
}

fn flac_ok(p: &PathBuf) -> bool {
    Command::new("flac")
        .args(["-t", "-s"])
        .arg(p)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("flac (scripts/test.sh installs it)")
        .success()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_samples_are_coded_losslessly(
        channels in 1u16..=3,
        bits in prop::sample::select(vec![16u8, 24]),
        samples in prop::collection::vec(-1.5f32..1.5, 1..20_000),
    ) {
        let ch = usize::from(channels);
        let whole = samples.len() / ch * ch;
        prop_assume!(whole > 0);
        let p = path("lossless");
        std::fs::write(&p, encode(&samples[..whole], channels, bits)).unwrap();
        // The MD5 check inside flac -t: what it decodes is what we encoded.
        prop_assert!(flac_ok(&p));
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn damage_anywhere_is_repaired_to_whole_frames_or_refused(
        cut in 0usize..60_000,
        flips in prop::collection::vec((0usize..60_000, any::<u8>()), 0..4),
        garbage in prop::collection::vec(any::<u8>(), 0..3000),
        zeros in any::<bool>(),
    ) {
        let signal: Vec<f32> = (0..2 * 20_000).map(|i| ((i as f32) * 0.013).sin() * 0.7).collect();
        let mut bytes = encode(&signal, 2, 24);
        for (at, x) in flips {
            let at = HEADER_LEN + at % (bytes.len() - HEADER_LEN);
            bytes[at] ^= x;
        }
        bytes.truncate(HEADER_LEN + cut % (bytes.len() - HEADER_LEN + 1));
        if zeros {
            // What a power cut leaves: the length on disk, not the data.
            bytes.extend(std::iter::repeat_n(0u8, garbage.len()));
        } else {
            bytes.extend_from_slice(&garbage);
        }
        let p = path("damage");
        std::fs::write(&p, &bytes).unwrap();
        match repair(&p) {
            Ok(r) => {
                let len = std::fs::metadata(&p).unwrap().len();
                prop_assert_eq!(len + r.trimmed, bytes.len() as u64);
                if r.frames > 0 {
                    prop_assert!(flac_ok(&p), "kept {} frames that libFLAC refuses", r.frames);
                }
            }
            Err(e) => prop_assert!(e.to_string().contains("troubadour-flac-prop"), "{}", e),
        }
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn random_bytes_after_a_header_never_panic(body in prop::collection::vec(any::<u8>(), 0..5000)) {
        let mut bytes = encode(&[0.1, 0.2], 2, 16)[..HEADER_LEN].to_vec();
        // Sync codes sprinkled in, so headers are tried.
        for (i, b) in body.iter().enumerate() {
            bytes.push(if i % 97 == 0 { 0xFF } else if i % 97 == 1 { 0xF8 } else { *b });
        }
        let p = path("random");
        std::fs::write(&p, &bytes).unwrap();
        let _ = repair(&p);
        let _ = std::fs::remove_file(&p);
    }
}
