//! What listens to a block besides the devices: the recorder's tracks and the spectrum
//! analyser's taps. Both are `None` at rest, so a block without them pays one branch
//! per strip.

use super::strip::TapGains;
use super::{BlockGain, BusState, Scratch};
use crate::recorder::Taps;
use crate::spectrum::SpectrumTaps;

/// The taps to feed during one callback.
#[derive(Debug, Default)]
pub(crate) struct Listeners<'a> {
    pub recorder: Option<&'a mut Taps>,
    pub spectrum: Option<&'a mut SpectrumTaps>,
}

impl Listeners<'_> {
    /// Feeds strip `i`'s taps: its buffers with the gains of the block just processed
    /// (a ramping gain is in the scratch buffers, see [`TapGains`]).
    #[inline(always)]
    pub(crate) fn strip(
        &mut self,
        i: usize,
        buf: &[Box<[f32]>],
        gains: TapGains,
        scratch: &Scratch,
        n: usize,
    ) {
        if self.recorder.is_none() && self.spectrum.is_none() {
            return;
        }
        let pre = gains
            .pre
            .map_or(BlockGain::Ramp(&scratch.a[..n]), BlockGain::Const);
        let post = gains
            .post
            .map_or(BlockGain::Ramp(&scratch.b[..n]), BlockGain::Const);
        if let Some(taps) = self.recorder.as_deref_mut() {
            taps.strip(i as u32, buf, pre, post, n);
        }
        if let Some(taps) = self.spectrum.as_deref_mut() {
            taps.strip(i as u32, buf, post, n);
        }
    }

    /// Feeds the bus taps after the buses were processed (`bufs` are every bus's
    /// channels, in bus order), and ends the recorder's block; `strips` is the graph's
    /// strip count.
    #[inline(always)]
    pub(crate) fn buses(&mut self, buses: &[BusState], bufs: &[Box<[f32]>], strips: u32, n: usize) {
        let bus = |i: u32| {
            let b = buses.get(i as usize)?;
            Some(&bufs[b.first..b.first + b.channels])
        };
        if let Some(taps) = self.recorder.as_deref_mut() {
            taps.buses(bus, n);
            taps.finish_block(strips, n);
        }
        if let Some(taps) = self.spectrum.as_deref_mut() {
            taps.buses(bus, n);
        }
    }
}

impl super::Graph {
    /// Audio thread, right after [`process_block`](Self::process_block): feeds `taps`'
    /// bus tracks (the buses' file sinks' recorder) the `n` frames each bus just sent
    /// out, and ends the block for them.
    #[inline]
    pub(crate) fn tap_buses(&self, taps: &mut Taps, n: usize) {
        let (buses, bufs) = (&self.buses, &self.bus_bufs);
        let bus = |i: u32| {
            let b = buses.get(i as usize)?;
            Some(&bufs[b.first..b.first + b.channels])
        };
        taps.buses(bus, n);
        taps.finish_block(self.strips.len() as u32, n);
    }
}
