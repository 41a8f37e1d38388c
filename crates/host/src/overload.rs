//! Telling the user when the machine cannot keep up: the DSP load over each second,
//! from two readings of the backend's totals, and the engine-caused late callbacks.

use std::time::{Duration, Instant};

use troubadour_io::backend::BackendStats;

/// A window's load above this, this many windows in a row, is an overload.
const HIGH_LOAD: f64 = 0.8;
const HIGH_WINDOWS: u32 = 3;
/// This many engine-caused late callbacks in one window is an overload at once.
const LATE_PER_WINDOW: u64 = 3;
/// Length of a window, and the least time between two warnings.
const WINDOW: Duration = Duration::from_secs(1);
const QUIET: Duration = Duration::from_secs(30);

/// Watches one backend's counters.
#[derive(Debug)]
pub(crate) struct OverloadWatch {
    window_start: Instant,
    busy_ns: u64,
    period_ns: u64,
    late: u64,
    high: u32,
    warned: Option<Instant>,
}

impl OverloadWatch {
    pub(crate) fn new() -> Self {
        OverloadWatch {
            window_start: Instant::now(),
            busy_ns: 0,
            period_ns: 0,
            late: 0,
            high: 0,
            warned: None,
        }
    }

    /// Looks at a reading; returns (load %, late callbacks) of the window that makes an
    /// overload worth telling, at most once per quiet period.
    pub(crate) fn look(&mut self, s: &BackendStats) -> Option<(f64, u64)> {
        let now = Instant::now();
        if now.duration_since(self.window_start) < WINDOW {
            return None;
        }
        let busy = s.busy_ns.saturating_sub(self.busy_ns);
        let period = s.period_ns.saturating_sub(self.period_ns);
        let late = s.late.saturating_sub(self.late);
        (self.window_start, self.busy_ns, self.period_ns, self.late) =
            (now, s.busy_ns, s.period_ns, s.late);
        let load = busy as f64 / period.max(1) as f64;
        self.high = if period > 0 && load > HIGH_LOAD {
            self.high + 1
        } else {
            0
        };
        let overloaded = self.high >= HIGH_WINDOWS || late >= LATE_PER_WINDOW;
        let quiet = self.warned.is_some_and(|t| now.duration_since(t) < QUIET);
        if overloaded && !quiet {
            self.warned = Some(now);
            Some((load * 100.0, late))
        } else {
            None
        }
    }

    /// Starts over (a new backend's counters start from zero).
    pub(crate) fn reset(&mut self) {
        let warned = self.warned;
        *self = OverloadWatch::new();
        self.warned = warned;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reading after `seconds` of callbacks at `load` of the period, with `late`
    /// engine-caused late callbacks in all.
    fn reading(seconds: u64, load: f64, late: u64) -> BackendStats {
        let period_ns = seconds * 1_000_000_000;
        BackendStats {
            busy_ns: (period_ns as f64 * load) as u64,
            period_ns,
            late,
            ..BackendStats::default()
        }
    }

    /// Looks at `s` as if a window had passed.
    fn after_a_window(w: &mut OverloadWatch, s: &BackendStats) -> Option<(f64, u64)> {
        w.window_start -= WINDOW;
        w.look(s)
    }

    #[test]
    fn a_load_above_eighty_percent_for_three_seconds_is_told_once() {
        let mut w = OverloadWatch::new();
        assert_eq!(after_a_window(&mut w, &reading(1, 0.9, 0)), None);
        assert_eq!(after_a_window(&mut w, &reading(2, 0.9, 0)), None);
        let told = after_a_window(&mut w, &reading(3, 0.9, 0)).expect("told");
        assert!((told.0 - 90.0).abs() < 1e-6, "{told:?}");
        // Still overloaded: quiet for a while, not told every second.
        assert_eq!(after_a_window(&mut w, &reading(4, 0.9, 0)), None);
    }

    #[test]
    fn a_load_that_dips_below_starts_the_count_again() {
        let mut w = OverloadWatch::new();
        let loads = [0.9, 0.9, 0.5, 0.9, 0.9];
        for s in 1..=loads.len() as u64 {
            // Cumulative totals: each second at its own load.
            let mut r = reading(s, 0.0, 0);
            r.busy_ns = loads[..s as usize].iter().map(|l| (1e9 * l) as u64).sum();
            assert_eq!(after_a_window(&mut w, &r), None, "second {s}");
        }
    }

    #[test]
    fn late_callbacks_are_told_at_once_and_a_light_load_is_not() {
        let mut w = OverloadWatch::new();
        assert_eq!(after_a_window(&mut w, &reading(1, 0.1, 0)), None);
        assert_eq!(after_a_window(&mut w, &reading(2, 0.1, 3)), Some((10.0, 3)));
    }

    #[test]
    fn nothing_is_judged_before_a_window_has_passed() {
        let mut w = OverloadWatch::new();
        assert_eq!(w.look(&reading(1, 1.5, 10)), None);
    }
}
