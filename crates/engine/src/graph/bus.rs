//! A bus on the audio thread: the sum of its sends, (processing slots), fader, mute,
//! the output stage that catches non-finite samples, and its meter.

use troubadour_dsp::compressor::Compressor;
use troubadour_dsp::eq::Equalizer;
use troubadour_dsp::kernels::output_stage;
use troubadour_dsp::limiter::Limiter;
use troubadour_rt::smooth::LinearRamp;

use crate::profile::{Lap, Stage};

use super::Scratch;
use crate::meters::BusMeter;

#[derive(Debug)]
pub(crate) struct BusState {
    /// First of this bus's channels in the graph's bus buffers.
    pub first: usize,
    pub channels: usize,
    /// 1 unless muted.
    pub on: LinearRamp,
    pub fader: LinearRamp,
    pub mute: bool,
    pub post_ms: Box<[f32]>,
    /// Processing slots, in signal order.
    pub eq: Option<Equalizer>,
    pub compressor: Option<Compressor>,
    pub limiter: Option<Limiter>,
}

/// What the output stage found in one block.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct OutputCounts {
    pub non_finite: u64,
    pub over_full_scale: u64,
}

impl BusState {
    /// Applies the bus gain to its summed channels in `bus_bufs`, writes them to
    /// `outputs[first + ch][offset..offset + n]` and meters them.
    #[allow(clippy::too_many_arguments)]
    // Inlined so that it is compiled into both builds of `Graph::process_block`.
    #[inline(always)]
    pub(crate) fn process(
        &mut self,
        bus_bufs: &mut [Box<[f32]>],
        outputs: &mut [&mut [f32]],
        offset: usize,
        n: usize,
        scratch: &mut Scratch,
        meter: &BusMeter,
        alpha: f32,
        lap: &mut impl Lap,
    ) -> OutputCounts {
        {
            // The EQ has run already (the graph runs the buses' EQs two at a time).
            let bufs = &mut bus_bufs[self.first..self.first + self.channels];
            if let Some(compressor) = &mut self.compressor {
                meter
                    .compressor_reduction
                    .raise(compressor.process(bufs, None, n));
            }
            if let Some(limiter) = &mut self.limiter {
                meter.limiter_reduction.raise(limiter.process(bufs, n));
            }
        }
        lap.lap(Stage::BusDsp);

        let (a, (b, _, _)) = scratch.split();
        let gain = match (
            self.on.next_block(&mut a[..n]),
            self.fader.next_block(&mut b[..n]),
        ) {
            (Some(o), Some(f)) => Some(o * f),
            (on, fader) => {
                if let Some(o) = on {
                    a[..n].fill(o);
                }
                if let Some(f) = fader {
                    b[..n].fill(f);
                }
                for (x, y) in a[..n].iter_mut().zip(&b[..n]) {
                    *x *= *y;
                }
                None
            }
        };
        let mut counts = OutputCounts::default();
        for ch in 0..self.channels {
            let buf = &mut bus_bufs[self.first + ch][..n];
            let stats = match gain {
                Some(g) => output_stage(buf, |_| g),
                None => {
                    let ramp = &a[..n];
                    output_stage(buf, |i| ramp[i])
                }
            };
            counts.non_finite += u64::from(stats.non_finite);
            counts.over_full_scale += u64::from(stats.over_full_scale);
            meter.post[ch].update(&mut self.post_ms[ch], stats.peak, stats.energy, n, alpha);
            if let Some(out) = outputs.get_mut(self.first + ch) {
                // A host buffer shorter than the frame count gets what fits.
                let end = (offset + n).min(out.len());
                if offset < end {
                    out[offset..end].copy_from_slice(&buf[..end - offset]);
                }
            }
        }
        lap.lap(Stage::Output);
        counts
    }

    /// Frames of delay this bus's look-ahead limiter adds.
    pub(crate) fn latency_frames(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.latency_frames())
    }

    pub(crate) fn inherit(&mut self, old: &BusState) {
        if let (Some(new), Some(old)) = (&mut self.eq, &old.eq) {
            new.continue_from(old);
        }
        if let (Some(new), Some(old)) = (&mut self.compressor, &old.compressor) {
            new.continue_from(old);
        }
        if let (Some(new), Some(old)) = (&mut self.limiter, &old.limiter) {
            new.continue_from(old);
        }
        for (new, old) in [(&mut self.on, &old.on), (&mut self.fader, &old.fader)] {
            let target = new.target();
            new.reset(old.value());
            new.set_target(target);
        }
        for (new, old) in self.post_ms.iter_mut().zip(&old.post_ms) {
            *new = *old;
        }
    }
}
