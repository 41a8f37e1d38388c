//! Value parsers shared by every command, so one option means one rule and one message
//! wherever it appears (`--seconds` on `run`, `render` and `bench`; `--latency-frames`).

use troubadour_engine::session::BLOCK_FRAMES_RANGE;

/// The longest `--seconds` accepted: 10⁷ s (about 116 days) keeps every frame count
/// far from overflowing while no real run comes near it.
pub const MAX_SECONDS: f64 = 1e7;

/// Parses `--seconds`: a finite number of seconds above 0 and at most [`MAX_SECONDS`].
pub fn seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= MAX_SECONDS => Ok(s),
        _ => Err(format!(
            "{text:?} is not a length in seconds: give a number above 0 and at most {MAX_SECONDS:.0}, e.g. 2.5"
        )),
    }
}

/// Parses `--latency-frames`: a period in the range a session's `block_frames` may
/// take.
pub fn latency_frames(text: &str) -> Result<usize, String> {
    let (lo, hi) = BLOCK_FRAMES_RANGE;
    match text.trim().parse::<u32>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n as usize),
        _ => Err(format!(
            "{text:?} is not a period in frames: give a whole number in {lo}..={hi} (the range of block_frames)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_takes_positive_finite_numbers_only() {
        assert_eq!(seconds("2.5"), Ok(2.5));
        for bad in ["nan", "NaN", "inf", "-1", "0", "-0", "1e8", "", "two"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn latency_frames_takes_the_block_frames_range() {
        assert_eq!(latency_frames("16"), Ok(16));
        assert_eq!(latency_frames("8192"), Ok(8192));
        for bad in ["1", "7", "15", "8193", "-16", "x"] {
            assert!(latency_frames(bad).is_err(), "{bad}");
        }
    }
}
