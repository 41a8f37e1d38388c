//! What the binary tells people reads as written for people: counts in the right
//! number, computed limits rounded, levels of what the files hold.

mod support;

use support::{Dir, text, troubadour};

const ONE: &str = "version = 1\n[[strip]]\nname = \"T\"\nchannels = 1\nsource = { generator = \"sine\", freq = 1000.0, level_db = 0.0 }\nsends = { A = {} }\n[[bus]]\nname = \"A\"\nchannels = 1\n";

#[test]
fn check_counts_in_the_right_number_and_rounds_computed_limits() {
    let dir = Dir::new("check");
    let o = troubadour(&["check", &dir.write("one.toml", ONE)]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(": valid (1 strip, 1 bus, 48000 Hz"),
        "{}",
        text(&o)
    );

    let impulse = ONE.replace(
        "generator = \"sine\", freq = 1000.0, level_db = 0.0",
        "generator = \"impulse\", interval_ms = 0.001",
    );
    let o = troubadour(&["check", &dir.write("impulse.toml", &impulse)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("0.001 is below the minimum of 0.02083 ms"),
        "{}",
        text(&o)
    );
}

#[test]
fn an_integer_render_reports_the_peak_the_file_holds_and_what_was_clipped() {
    let dir = Dir::new("s16");
    // A full-scale sine with 36 dB of gain: +36 dBFS before the file clips it.
    let hot = ONE.replace(
        "channels = 1\nsource",
        "channels = 1\ngain_db = 24.0\nfader_db = 12.0\nsource",
    );
    let session = dir.write("hot.toml", &hot);
    let out = dir.0.join("out");
    let o = troubadour(&[
        "render",
        &session,
        "--out",
        out.to_str().unwrap(),
        "--seconds",
        "1",
        "--format",
        "s16",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let row = String::from_utf8_lossy(&o.stdout)
        .lines()
        .find(|l| l.starts_with("A "))
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect::<Vec<_>>();
    // bus, file, peak, RMS, clipped
    assert_eq!(row[2], "0.0", "{row:?}");
    let clipped: u64 = row[4].parse().unwrap();
    assert!(clipped > 40_000, "{row:?}");
}
