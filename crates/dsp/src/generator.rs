//! Test-signal sources: sine, white noise, pink noise, impulse train, silence.
//!
//! Every generator is deterministic (noise comes from a seeded [`Rng`]), so an offline
//! render is byte-identical run after run. Levels: `level_db` is the peak for sine and
//! impulse, the RMS for noise (the figure a meter shows for each).

use crate::gain::db_to_gain;
use crate::rng::Rng;

/// Which signal a [`Generator`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waveform {
    /// A sine at `freq_hz`.
    Sine,
    /// Uniform white noise.
    WhiteNoise,
    /// Pink (1/f) noise, -3 dB per octave.
    PinkNoise,
    /// One full-level sample every `interval_frames`, the first at frame 0.
    Impulse,
    /// Zeros.
    Silence,
}

/// Settings of a [`Generator`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneratorSpec {
    /// The signal.
    pub waveform: Waveform,
    /// Frequency of the sine.
    pub freq_hz: f64,
    /// Peak (sine, impulse) or RMS (noise) level in dBFS.
    pub level_db: f32,
    /// Seed of the noise sequence.
    pub seed: u64,
    /// Distance between impulses in frames.
    pub interval_frames: u64,
}

/// A running test-signal source. Renders mono; a strip copies it to all its channels.
///
/// ```
/// use troubadour_dsp::generator::{Generator, GeneratorSpec, Waveform};
///
/// let spec = GeneratorSpec { waveform: Waveform::Sine, freq_hz: 12_000.0, level_db: 0.0, seed: 0, interval_frames: 0 };
/// let mut sine = Generator::new(spec, 48_000);
/// let mut out = [0.0; 4];
/// sine.render(&mut out);
/// assert!(out[0].abs() < 1e-6 && (out[1] - 1.0).abs() < 1e-6); // a quarter period per sample
/// ```
#[derive(Debug, Clone)]
pub struct Generator {
    spec: GeneratorSpec,
    amplitude: f32,
    /// Sine phase in cycles, kept in f64 so hours of playback do not drift audibly.
    phase: f64,
    increment: f64,
    rng: Rng,
    pink: [f32; 7],
    /// Frames until the next impulse.
    countdown: u64,
}

impl Generator {
    /// A generator at the start of its signal. Call off the audio thread: pink noise
    /// measures its own level here to calibrate.
    pub fn new(spec: GeneratorSpec, sample_rate: u32) -> Self {
        let level = db_to_gain(spec.level_db);
        let amplitude = match spec.waveform {
            Waveform::Sine | Waveform::Impulse => level,
            // Uniform noise in [-1, 1) has an RMS of 1/sqrt(3).
            Waveform::WhiteNoise => level * 3f32.sqrt(),
            Waveform::PinkNoise => level / pink_rms(),
            Waveform::Silence => 0.0,
        };
        Self {
            spec,
            amplitude,
            phase: 0.0,
            increment: spec.freq_hz / f64::from(sample_rate),
            rng: Rng::new(spec.seed),
            pink: [0.0; 7],
            countdown: 0,
        }
    }

    /// The settings it was built with.
    pub fn spec(&self) -> &GeneratorSpec {
        &self.spec
    }

    /// Fills `out` with the next samples.
    #[inline]
    pub fn render(&mut self, out: &mut [f32]) {
        match self.spec.waveform {
            Waveform::Sine => {
                for o in out.iter_mut() {
                    *o = self.amplitude * (std::f64::consts::TAU * self.phase).sin() as f32;
                    self.phase += self.increment;
                    if self.phase >= 1.0 {
                        self.phase -= 1.0;
                    }
                }
            }
            Waveform::WhiteNoise => {
                for o in out.iter_mut() {
                    *o = self.amplitude * self.rng.next_bipolar();
                }
            }
            Waveform::PinkNoise => {
                for o in out.iter_mut() {
                    *o = self.amplitude * pink_step(&mut self.pink, self.rng.next_bipolar());
                }
            }
            Waveform::Impulse => {
                out.fill(0.0);
                let interval = self.spec.interval_frames.max(1);
                let mut at = self.countdown;
                while (at as usize) < out.len() {
                    out[at as usize] = self.amplitude;
                    at += interval;
                }
                self.countdown = at - out.len() as u64;
            }
            Waveform::Silence => out.fill(0.0),
        }
    }

    /// Continues the signal of `other` (same spec) from where it is, so a rebuilt graph
    /// does not restart its test tones.
    pub fn continue_from(&mut self, other: &Generator) {
        if self.spec == other.spec {
            self.phase = other.phase;
            self.rng = other.rng;
            self.pink = other.pink;
            self.countdown = other.countdown;
        }
    }
}

/// Paul Kellet's refined pink filter: seven one-pole sections whose sum is within
/// ±0.05 dB of 1/f from 9 Hz up to a quarter of the sample rate.
#[inline]
fn pink_step(b: &mut [f32; 7], white: f32) -> f32 {
    b[0] = 0.99886 * b[0] + white * 0.055_517_9;
    b[1] = 0.99332 * b[1] + white * 0.075_075_9;
    b[2] = 0.96900 * b[2] + white * 0.153_852;
    b[3] = 0.86650 * b[3] + white * 0.310_485_6;
    b[4] = 0.55000 * b[4] + white * 0.532_952_2;
    b[5] = -0.7616 * b[5] - white * 0.016_898;
    let pink = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + white * 0.5362;
    b[6] = white * 0.115_926;
    pink
}

/// RMS of the raw pink filter output, measured once over 2^18 samples of a fixed seed.
fn pink_rms() -> f32 {
    static RMS: std::sync::OnceLock<f32> = std::sync::OnceLock::new();
    *RMS.get_or_init(|| {
        let mut rng = Rng::new(0x5eed);
        let mut b = [0.0; 7];
        // Let the slowest section settle before measuring.
        for _ in 0..48_000 {
            pink_step(&mut b, rng.next_bipolar());
        }
        let n = 1 << 18;
        let energy: f64 = (0..n)
            .map(|_| f64::from(pink_step(&mut b, rng.next_bipolar())).powi(2))
            .sum();
        (energy / f64::from(n)).sqrt() as f32
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(waveform: Waveform, level_db: f32) -> GeneratorSpec {
        GeneratorSpec {
            waveform,
            freq_hz: 1000.0,
            level_db,
            seed: 42,
            interval_frames: 100,
        }
    }

    fn rms_db(x: &[f32]) -> f64 {
        let e: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64;
        10.0 * e.log10()
    }

    #[test]
    fn noise_levels_are_rms_levels() {
        for w in [Waveform::WhiteNoise, Waveform::PinkNoise] {
            let mut g = Generator::new(spec(w, -20.0), 48_000);
            let mut x = vec![0.0; 480_000];
            g.render(&mut x);
            let level = rms_db(&x[48_000..]);
            assert!((level + 20.0).abs() < 0.3, "{w:?}: {level} dB");
        }
    }

    #[test]
    fn sine_level_is_peak_and_rms_is_3db_lower() {
        let mut g = Generator::new(spec(Waveform::Sine, -6.0), 48_000);
        let mut x = vec![0.0; 48_000];
        g.render(&mut x);
        let peak = x.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
        assert!((20.0 * peak.log10() + 6.0).abs() < 0.01);
        assert!((rms_db(&x) + 6.0 + 3.0103).abs() < 0.01);
    }

    #[test]
    fn impulses_land_on_their_interval_across_blocks() {
        let mut g = Generator::new(spec(Waveform::Impulse, 0.0), 48_000);
        let mut x = vec![0.0; 1000];
        for chunk in x.chunks_mut(37) {
            g.render(chunk);
        }
        let at: Vec<usize> = (0..1000).filter(|&i| x[i] != 0.0).collect();
        assert_eq!(at, (0..10).map(|k| k * 100).collect::<Vec<_>>());
    }

    #[test]
    fn same_seed_same_noise_other_seed_other_noise() {
        let render = |seed| {
            let mut g = Generator::new(
                GeneratorSpec {
                    seed,
                    ..spec(Waveform::PinkNoise, 0.0)
                },
                48_000,
            );
            let mut x = vec![0.0; 64];
            g.render(&mut x);
            x
        };
        assert_eq!(render(1), render(1));
        assert_ne!(render(1), render(2));
    }
}
