//! A spectrum analyser for displays: a Hann-windowed real FFT of the newest
//! [`FFT_SIZE`] samples, read in 1/6-octave bands from 20 Hz to 20 kHz with meter-like
//! ballistics and a peak hold. Control side only: it allocates when built, never after.
//!
//! Levels are in dBFS of a sine: a full-scale sine reads 0 dB in its band. A band
//! reads the energy of the FFT bins whose centres lie inside it (so a sine reads its
//! level wherever it falls between bins), or, where that reads less, its strongest bin
//! as a sine's amplitude (bands narrower than a bin, below about 150 Hz at 48 kHz,
//! hold one bin or none and would otherwise read the window's noise bandwidth short).
//! A band that holds no bin reads the two bins around its centre, interpolated; down
//! there a sine reads up to the Hann window's scalloping loss (1.4 dB) low.
//!
//! ```
//! use troubadour_dsp::spectrum::Analyser;
//!
//! let rate = 48_000.0;
//! let mut analyser = Analyser::new(rate);
//! let tone: Vec<f32> = (0..8192)
//!     .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate).sin())
//!     .collect();
//! analyser.push(&tone);
//! analyser.analyse(0.04);
//! let (band, level) = analyser.loudest();
//! assert!((analyser.centres()[band] - 1000.0).abs() < 1.0);
//! assert!((level - -6.02).abs() < 0.5);
//! ```

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Points of the FFT: 11.7 Hz per bin at 48 kHz, 85 ms of signal.
pub const FFT_SIZE: usize = 4096;

/// What silence reads, dBFS.
pub const FLOOR_DB: f32 = -120.0;

/// How fast a band's level falls once its signal goes, dB per second.
pub const FALL_DB_PER_S: f32 = 30.0;

/// How long a peak is held before it falls, seconds.
pub const PEAK_HOLD_S: f32 = 1.0;

/// How fast a held peak falls after its hold, dB per second.
pub const PEAK_FALL_DB_PER_S: f32 = 15.0;

/// Bands per octave.
pub const BANDS_PER_OCTAVE: i32 = 6;

/// One band: the bins it sums.
#[derive(Debug, Clone, Copy)]
struct Band {
    /// First and one-past-last bin whose centre lies inside the band.
    bins: (usize, usize),
    /// The band's centre in bins (for a band that holds no bin: read between the two
    /// bins around it).
    centre_bin: f32,
}

/// A spectrum analyser for one signal.
pub struct Analyser {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Box<[f32]>,
    /// The newest `FFT_SIZE` samples, oldest first once `filled`; `head` is the oldest.
    history: Box<[f32]>,
    head: usize,
    frame: Box<[f32]>,
    spectrum: Box<[Complex<f32>]>,
    scratch: Box<[Complex<f32>]>,
    centres: Box<[f32]>,
    bands: Box<[Band]>,
    /// Sine-level of a band's bins summed: 4 / (N Σw²).
    energy_scale: f32,
    /// Sine amplitude of a bin: 2 / Σw.
    bin_scale: f32,
    levels: Box<[f32]>,
    peaks: Box<[f32]>,
    peak_age: Box<[f32]>,
}

impl std::fmt::Debug for Analyser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyser")
            .field("bands", &self.bands.len())
            .finish_non_exhaustive()
    }
}

impl Analyser {
    /// An analyser for a signal at `sample_rate` Hz, every band at the floor.
    pub fn new(sample_rate: f32) -> Self {
        let n = FFT_SIZE;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
        // The periodic Hann window (the DFT's own period): its sum is exactly N/2.
        let window: Box<[f32]> = (0..n)
            .map(|i| {
                let x = std::f64::consts::PI * i as f64 / n as f64;
                (x.sin() * x.sin()) as f32
            })
            .collect();
        let sum: f64 = window.iter().map(|&w| f64::from(w)).sum();
        let sum_sq: f64 = window.iter().map(|&w| f64::from(w) * f64::from(w)).sum();
        let bin_hz = f64::from(sample_rate) / n as f64;
        let last_bin = n / 2;
        let nyquist = f64::from(sample_rate) / 2.0;
        let (mut centres, mut bands) = (Vec::new(), Vec::new());
        // Centres on the ISO series' base-2 grid, 1 kHz · 2^(k/6), 20 Hz..20 kHz.
        for k in -34..=26 {
            let centre = 1000.0 * 2f64.powf(f64::from(k) / f64::from(BANDS_PER_OCTAVE));
            let half = 2f64.powf(1.0 / (2.0 * f64::from(BANDS_PER_OCTAVE)));
            let (lo, hi) = (centre / half, (centre * half).min(nyquist));
            if lo >= nyquist {
                break;
            }
            let first = ((lo / bin_hz).ceil() as usize).max(1);
            let end = ((hi / bin_hz).floor() as usize + 1).min(last_bin + 1);
            centres.push(centre as f32);
            bands.push(Band {
                bins: (first, end.max(first)),
                centre_bin: ((centre / bin_hz) as f32).min(last_bin as f32),
            });
        }
        let count = bands.len();
        let spectrum = fft.make_output_vec().into_boxed_slice();
        let scratch = fft.make_scratch_vec().into_boxed_slice();
        Analyser {
            fft,
            window,
            history: vec![0.0; n].into_boxed_slice(),
            head: 0,
            frame: vec![0.0; n].into_boxed_slice(),
            spectrum,
            scratch,
            centres: centres.into_boxed_slice(),
            bands: bands.into_boxed_slice(),
            energy_scale: (4.0 / (n as f64 * sum_sq)) as f32,
            bin_scale: (2.0 / sum) as f32,
            levels: vec![FLOOR_DB; count].into_boxed_slice(),
            peaks: vec![FLOOR_DB; count].into_boxed_slice(),
            peak_age: vec![0.0; count].into_boxed_slice(),
        }
    }

    /// The bands' centre frequencies, Hz.
    pub fn centres(&self) -> &[f32] {
        &self.centres
    }

    /// Adds samples, newest last; only the newest [`FFT_SIZE`] count.
    pub fn push(&mut self, samples: &[f32]) {
        let n = self.history.len();
        let samples = &samples[samples.len().saturating_sub(n)..];
        for &x in samples {
            // A NaN would spread over every bin; silence says as much about it.
            self.history[self.head] = if x.is_finite() { x } else { 0.0 };
            self.head = (self.head + 1) % n;
        }
    }

    /// Analyses the newest samples and moves the displayed levels and peaks on by
    /// `elapsed` seconds (since the previous call).
    pub fn analyse(&mut self, elapsed: f32) {
        let n = self.history.len();
        let (older, newer) = self.history.split_at(self.head);
        for ((out, x), w) in self
            .frame
            .iter_mut()
            .zip(newer.iter().chain(older))
            .zip(&self.window)
        {
            *out = x * w;
        }
        debug_assert_eq!(self.frame.len(), n);
        if self
            .fft
            .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
            .is_err()
        {
            // Only wrong buffer lengths fail, and these were made by the plan itself.
            return;
        }
        let fall = FALL_DB_PER_S * elapsed;
        let peak_fall = PEAK_FALL_DB_PER_S * elapsed;
        for (i, band) in self.bands.iter().enumerate() {
            let now = band_db(&self.spectrum, band, self.energy_scale, self.bin_scale);
            let level = &mut self.levels[i];
            *level = now.max(*level - fall).max(FLOOR_DB);
            if *level >= self.peaks[i] {
                self.peaks[i] = *level;
                self.peak_age[i] = 0.0;
            } else {
                self.peak_age[i] += elapsed;
                if self.peak_age[i] > PEAK_HOLD_S {
                    self.peaks[i] = (self.peaks[i] - peak_fall).max(*level);
                }
            }
        }
    }

    /// Each band's level, dBFS (a sine's), at least [`FLOOR_DB`].
    pub fn levels(&self) -> &[f32] {
        &self.levels
    }

    /// Each band's held peak, dBFS.
    pub fn peaks(&self) -> &[f32] {
        &self.peaks
    }

    /// The band with the highest level, and that level.
    pub fn loudest(&self) -> (usize, f32) {
        self.levels
            .iter()
            .copied()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (i, l)| {
                if l > best.1 { (i, l) } else { best }
            })
    }
}

/// A band's level now, dBFS: the larger of its bins' summed energy and its strongest
/// bin read as a sine (see the module's docs).
fn band_db(spectrum: &[Complex<f32>], band: &Band, energy_scale: f32, bin_scale: f32) -> f32 {
    let bins = &spectrum[band.bins.0..band.bins.1];
    let energy: f32 = bins.iter().map(|c| c.norm_sqr()).sum::<f32>() * energy_scale;
    let strongest = if bins.is_empty() {
        // Between two bins: their magnitudes interpolated, so that of two neighbouring
        // bands the one nearer a sine reads it louder.
        let below = band.centre_bin.floor() as usize;
        let above = (below + 1).min(spectrum.len() - 1);
        let t = band.centre_bin - below as f32;
        let magnitude = spectrum[below].norm() * (1.0 - t) + spectrum[above].norm() * t;
        magnitude * magnitude
    } else {
        bins.iter().map(|c| c.norm_sqr()).fold(0.0, f32::max)
    };
    let power = energy.max(strongest * bin_scale * bin_scale);
    if power > 0.0 {
        10.0 * power.log10()
    } else {
        FLOOR_DB
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: f32 = 48_000.0;

    fn sine(freq: f32, level_db: f32, frames: usize) -> Vec<f32> {
        let amp = 10f32.powf(level_db / 20.0);
        (0..frames)
            .map(|i| {
                let phase = 2.0 * std::f64::consts::PI * f64::from(freq) * i as f64;
                amp * (phase / f64::from(RATE)).sin() as f32
            })
            .collect()
    }

    fn analysed(signal: &[f32]) -> Analyser {
        let mut a = Analyser::new(RATE);
        a.push(signal);
        a.analyse(0.04);
        a
    }

    /// The band whose edges hold `freq`.
    fn band_of(a: &Analyser, freq: f32) -> usize {
        let half = 2f32.powf(1.0 / 12.0);
        a.centres()
            .iter()
            .position(|&c| freq >= c / half && freq < c * half)
            .unwrap()
    }

    #[test]
    fn bands_cover_20_hz_to_20_khz_in_sixth_octaves() {
        let a = Analyser::new(RATE);
        let c = a.centres();
        assert_eq!(c.len(), 61);
        assert!((c[0] - 19.69).abs() < 0.01, "{}", c[0]);
        assert!(
            (c[c.len() - 1] - 20_158.7).abs() < 0.1,
            "{}",
            c[c.len() - 1]
        );
        for pair in c.windows(2) {
            assert!((pair[1] / pair[0] - 2f32.powf(1.0 / 6.0)).abs() < 1e-4);
        }
    }

    #[test]
    fn a_full_scale_sine_on_a_bin_reads_0_dbfs_in_its_band() {
        let bin_hz = RATE / FFT_SIZE as f32;
        for bin in [9, 85, 341, 1365] {
            let freq = bin as f32 * bin_hz;
            let a = analysed(&sine(freq, 0.0, FFT_SIZE));
            let (band, level) = a.loudest();
            assert_eq!(band, band_of(&a, freq), "{freq} Hz");
            assert!(level.abs() < 0.5, "{freq} Hz read {level} dB");
        }
    }

    #[test]
    fn sines_between_bins_read_their_level_in_their_band() {
        for (freq, level_db) in [
            (50.0, -3.0),
            (100.0, -12.0),
            (440.0, -20.0),
            (1000.0, -6.0),
            (3150.0, -40.0),
            (10_000.0, -1.0),
            (17_000.0, -60.0),
        ] {
            let a = analysed(&sine(freq, level_db, FFT_SIZE * 2));
            let (band, level) = a.loudest();
            // Bands narrower than a bin read the strongest bin, which may lie in the
            // next band, down by at most the Hann window's scalloping loss (1.42 dB).
            let narrow = freq < 150.0;
            let expected = band_of(&a, freq);
            if narrow {
                assert!(band.abs_diff(expected) <= 1, "{freq} Hz in band {band}");
            } else {
                assert_eq!(band, expected, "{freq} Hz");
            }
            let tolerance = if narrow { 1.5 } else { 0.5 };
            assert!(
                (level - level_db).abs() < tolerance,
                "{freq} Hz at {level_db} dB read {level} dB"
            );
            // An octave away the sine is far down the window's side lobes.
            let far_freq = if freq * 2.1 < 20_000.0 {
                freq * 2.1
            } else {
                freq / 2.1
            };
            let far = band_of(&a, far_freq);
            assert!(
                a.levels()[far] < level_db - 40.0,
                "{freq} Hz leaks {} dB an octave up",
                a.levels()[far]
            );
        }
    }

    #[test]
    fn silence_reads_the_floor() {
        let a = analysed(&vec![0.0; FFT_SIZE]);
        assert!(a.levels().iter().all(|&l| l == FLOOR_DB));
        assert!(a.peaks().iter().all(|&l| l == FLOOR_DB));
    }

    #[test]
    fn levels_fall_at_their_rate_and_peaks_hold_then_fall() {
        let mut a = analysed(&sine(1000.0, -6.0, FFT_SIZE));
        let band = band_of(&a, 1000.0);
        a.push(&vec![0.0; FFT_SIZE]);
        a.analyse(0.5);
        let level = a.levels()[band];
        assert!(
            (level - (-6.0 - 0.5 * FALL_DB_PER_S)).abs() < 0.5,
            "{level}"
        );
        assert!(
            (a.peaks()[band] + 6.0).abs() < 0.5,
            "held: {}",
            a.peaks()[band]
        );
        a.analyse(0.6);
        a.analyse(1.0);
        assert!(a.peaks()[band] < -6.0 - 10.0, "falls: {}", a.peaks()[band]);
        assert!(a.peaks()[band] >= a.levels()[band]);
    }

    #[test]
    fn only_the_newest_window_counts() {
        let mut a = Analyser::new(RATE);
        a.push(&sine(1000.0, 0.0, FFT_SIZE * 3));
        a.push(&sine(5000.0, -10.0, FFT_SIZE));
        a.analyse(10.0);
        let (band, level) = a.loudest();
        assert_eq!(band, band_of(&a, 5000.0));
        assert!((level + 10.0).abs() < 0.5, "{level}");
    }
}
