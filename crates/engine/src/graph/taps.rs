//! Where the recorders' taps read the graph: a strip after it was processed, the
//! buses as they leave.

use super::strip::TapGains;
use super::{BlockGain, Graph, Scratch};
use crate::recorder::Taps;

impl Graph {
    /// Audio thread, right after [`process_block`](Self::process_block): feeds `taps`'
    /// bus tracks the `n` frames each bus just sent out, and ends the block for them.
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

/// Feeds strip `i`'s recorder tracks: its buffers with the gains of the block just
/// processed (a ramping gain is in the scratch buffers, see [`TapGains`]).
#[inline(always)]
pub(super) fn tap_strip(
    taps: &mut Taps,
    i: usize,
    buf: &[Box<[f32]>],
    gains: TapGains,
    scratch: &Scratch,
    n: usize,
) {
    let pre = gains
        .pre
        .map_or(BlockGain::Ramp(&scratch.a[..n]), BlockGain::Const);
    let post = gains
        .post
        .map_or(BlockGain::Ramp(&scratch.b[..n]), BlockGain::Const);
    taps.strip(i as u32, buf, pre, post, n);
}
