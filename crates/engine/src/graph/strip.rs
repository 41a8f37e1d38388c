//! A strip on the audio thread: source, trim, (processing slots), fader, pan, mute,
//! solo, meters and the sends that add it into the buses.

use std::sync::atomic::Ordering;

use troubadour_dsp::compressor::Compressor;
use troubadour_dsp::eq::Equalizer;
use troubadour_dsp::gain::{balance_law, pan_law};
use troubadour_dsp::gate::Gate;
use troubadour_dsp::kernels::{
    mix_ramped, mix_scaled, peak_and_energy, peak_and_energy_ramped, scale, scale_ramped,
};
use troubadour_rt::smooth::LinearRamp;

use crate::profile::{Lap, Stage};

use super::source::SourcePlayer;
use super::{BlockGain, Scratch};
use crate::meters::StripMeter;

/// How a route's gain depends on the strip's pan or balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Law {
    /// Channel to same channel, pan ignored.
    Unity,
    /// Mono onto the left / right channel with the constant-power law.
    PanLeft,
    PanRight,
    /// Stereo channel onto the same side, scaled by the balance law.
    BalanceLeft,
    BalanceRight,
    /// Stereo channel folded onto a mono bus (half each), with balance.
    FoldLeft,
    FoldRight,
}

impl Law {
    #[inline]
    fn gain(self, pan: f32) -> f32 {
        match self {
            Law::Unity => 1.0,
            Law::PanLeft => pan_law(pan).0,
            Law::PanRight => pan_law(pan).1,
            Law::BalanceLeft => balance_law(pan).0,
            Law::BalanceRight => balance_law(pan).1,
            Law::FoldLeft => 0.5 * balance_law(pan).0,
            Law::FoldRight => 0.5 * balance_law(pan).1,
        }
    }
}

/// One send of a strip.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendState {
    /// Bus index.
    pub bus: u32,
    /// Linear level.
    pub level: f32,
    pub on: bool,
    pub pre_fader: bool,
}

/// One strip channel feeding one bus channel through one send.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    /// Index into the strip's sends.
    pub send: u16,
    /// Strip channel.
    pub src: u16,
    /// Global bus channel (index into the graph's bus buffers).
    pub dst: u32,
    pub law: Law,
    /// Send level × on × pan law, smoothed.
    pub coef: LinearRamp,
}

/// A strip's pre- and post-fader gains over the block just processed: one value, or
/// `None` when the gain ramped (the ramp is then in the graph's scratch buffer `a` for
/// pre-fader, `b` for post-fader, until the next strip is processed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TapGains {
    pub pre: Option<f32>,
    pub post: Option<f32>,
}

#[derive(Debug)]
pub(crate) struct StripState {
    pub source: SourcePlayer,
    /// Working buffers, one per channel, `max_block` long.
    pub buf: Box<[Box<[f32]>]>,
    pub trim: LinearRamp,
    /// 1 when audible, 0 when muted or silenced by another strip's solo.
    pub on: LinearRamp,
    pub fader: LinearRamp,
    pub mute: bool,
    pub solo: bool,
    pub pan: f32,
    pub sends: Box<[SendState]>,
    pub routes: Box<[Route]>,
    /// Audio-side mean-square state of the pre- and post-fader meters.
    pub pre_ms: Box<[f32]>,
    pub post_ms: Box<[f32]>,
    /// Processing slots, in signal order.
    pub gate: Option<Gate>,
    pub eq: Option<Equalizer>,
    pub compressor: Option<Compressor>,
    /// Strip whose pre-fader signal drives the compressor's detector.
    pub sidechain: Option<u32>,
}

impl StripState {
    /// Target of a route's coefficient from its send and the strip's pan.
    #[inline]
    pub(crate) fn route_target(send: &SendState, law: Law, pan: f32) -> f32 {
        if send.on {
            send.level * law.gain(pan)
        } else {
            0.0
        }
    }

    /// Retargets every route after a send or pan change.
    pub(crate) fn retarget_routes(&mut self) {
        for r in self.routes.iter_mut() {
            r.coef.set_target(Self::route_target(
                &self.sends[usize::from(r.send)],
                r.law,
                self.pan,
            ));
        }
    }

    /// The first part of processing `n` frames: source, trim and gate. The graph runs
    /// it for every strip, then the EQs (two strips at a time where that is faster, see
    /// `Equalizer::process_pair`), then [`process_back`](Self::process_back).
    // Inlined so that it is compiled into both builds of `Graph::process_block`.
    #[inline(always)]
    pub(crate) fn process_front(
        &mut self,
        inputs: &[&[f32]],
        offset: usize,
        n: usize,
        scratch: &mut Scratch,
        meter: &StripMeter,
        lap: &mut impl Lap,
    ) {
        let underrun = self.source.render(inputs, offset, &mut self.buf, n);
        if underrun > 0 {
            meter.underrun_frames.fetch_add(underrun, Ordering::Relaxed);
        }
        lap.lap(Stage::Sources);

        // Trim.
        match self.trim.next_block(&mut scratch.a[..n]) {
            Some(1.0) => {}
            Some(g) => self.buf.iter_mut().for_each(|b| scale(&mut b[..n], g)),
            None => self
                .buf
                .iter_mut()
                .for_each(|b| scale_ramped(&mut b[..n], &scratch.a[..n])),
        }

        if let Some(gate) = &mut self.gate {
            meter.gate_reduction.raise(gate.process(&mut self.buf, n));
        }
        lap.lap(Stage::StripDsp);
    }

    /// The rest of processing `n` frames, after the EQ: compressor, meters, fader and
    /// sends, added into `bus_bufs`. Returns the block's tap gains for the recorder.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn process_back(
        &mut self,
        n: usize,
        bus_bufs: &mut [Box<[f32]>],
        scratch: &mut Scratch,
        meter: &StripMeter,
        alpha: f32,
        sidechain: Option<&[Box<[f32]>]>,
        lap: &mut impl Lap,
    ) -> TapGains {
        if let Some(compressor) = &mut self.compressor {
            meter
                .compressor_reduction
                .raise(compressor.process(&mut self.buf, sidechain, n));
        }
        lap.lap(Stage::StripDsp);

        for (ch, b) in self.buf.iter().enumerate() {
            let (peak, energy) = peak_and_energy(&b[..n], 1.0);
            meter.pre[ch].update(&mut self.pre_ms[ch], peak, energy, n, alpha);
            scratch.pre_levels[ch] = (peak, energy);
        }

        // The two tap gains: pre-fader = on (mute/solo), post-fader = on × fader.
        let pre_levels = scratch.pre_levels;
        let (a, rest) = scratch.split();
        let (post_buf, coef_buf, tmp_buf) = rest;
        let on = self.on.next_block(&mut a[..n]);
        let fader = self.fader.next_block(&mut post_buf[..n]);
        let pre = match on {
            Some(g) => BlockGain::Const(g),
            None => BlockGain::Ramp(&a[..n]),
        };
        let post = match (on, fader) {
            (Some(o), Some(f)) => BlockGain::Const(o * f),
            (Some(o), None) => {
                scale(&mut post_buf[..n], o);
                BlockGain::Ramp(&post_buf[..n])
            }
            (None, Some(f)) => {
                for (p, o) in post_buf[..n].iter_mut().zip(&a[..n]) {
                    *p = *o * f;
                }
                BlockGain::Ramp(&post_buf[..n])
            }
            (None, None) => {
                for (p, o) in post_buf[..n].iter_mut().zip(&a[..n]) {
                    *p *= *o;
                }
                BlockGain::Ramp(&post_buf[..n])
            }
        };

        for (ch, b) in self.buf.iter().enumerate() {
            let (peak, energy) = match post {
                // A steady gain scales the pre-fader figures: no second pass.
                BlockGain::Const(g) => {
                    let (p, e) = pre_levels[ch];
                    (p * g.abs(), e * g * g)
                }
                BlockGain::Ramp(g) => peak_and_energy_ramped(&b[..n], g),
            };
            meter.post[ch].update(&mut self.post_ms[ch], peak, energy, n, alpha);
        }

        for route in self.routes.iter_mut() {
            let send = &self.sends[usize::from(route.send)];
            let tap = if send.pre_fader { pre } else { post };
            let src = &self.buf[usize::from(route.src)][..n];
            let dst = &mut bus_bufs[route.dst as usize][..n];
            match (tap, route.coef.next_block(&mut coef_buf[..n])) {
                (BlockGain::Const(t), Some(c)) => {
                    let g = t * c;
                    if g != 0.0 {
                        mix_scaled(dst, src, g);
                    }
                }
                (BlockGain::Const(t), None) => mix_ramped(dst, src, &coef_buf[..n], t),
                (BlockGain::Ramp(t), Some(c)) => mix_ramped(dst, src, t, c),
                (BlockGain::Ramp(t), None) => {
                    for ((x, c), g) in tmp_buf[..n].iter_mut().zip(&coef_buf[..n]).zip(t) {
                        *x = *c * *g;
                    }
                    mix_ramped(dst, src, &tmp_buf[..n], 1.0);
                }
            }
        }
        lap.lap(Stage::Mixing);
        let constant = |g: BlockGain<'_>| match g {
            BlockGain::Const(g) => Some(g),
            BlockGain::Ramp(_) => None,
        };
        TapGains {
            pre: constant(pre),
            post: constant(post),
        }
    }

    /// Carries running state over from the same strip in the previous graph: the source
    /// position and every gain's current value (gliding on to this graph's targets), so a
    /// structural change elsewhere does not click here.
    /// `bus_map[new bus] = old bus` for buses present in both graphs.
    pub(crate) fn inherit(&mut self, old: &mut StripState, bus_map: &[Option<u32>]) {
        self.source.continue_from(&mut old.source);
        if let (Some(new), Some(old)) = (&mut self.gate, &old.gate) {
            new.continue_from(old);
        }
        if let (Some(new), Some(old)) = (&mut self.eq, &old.eq) {
            new.continue_from(old);
        }
        if let (Some(new), Some(old)) = (&mut self.compressor, &old.compressor) {
            new.continue_from(old);
        }
        for (new, old) in [
            (&mut self.trim, &old.trim),
            (&mut self.on, &old.on),
            (&mut self.fader, &old.fader),
        ] {
            let target = new.target();
            new.reset(old.value());
            new.set_target(target);
        }
        for r in self.routes.iter_mut() {
            let Some(old_bus) = bus_map[self.sends[usize::from(r.send)].bus as usize] else {
                continue;
            };
            let same = old.routes.iter().find(|o| {
                o.src == r.src && o.law == r.law && old.sends[usize::from(o.send)].bus == old_bus
            });
            if let Some(o) = same {
                let target = r.coef.target();
                r.coef.reset(o.coef.value());
                r.coef.set_target(target);
            }
        }
        for (new, old) in self.pre_ms.iter_mut().zip(&old.pre_ms) {
            *new = *old;
        }
        for (new, old) in self.post_ms.iter_mut().zip(&old.post_ms) {
            *new = *old;
        }
    }
}
