//! The tap's copy with non-temporal stores (SSE2, which every x86-64 CPU has).
//!
//! A take's rings hold seconds of audio, so every block the taps write lands on lines
//! no cache holds: an ordinary store first reads each line from memory, then the lines
//! push the graph's own state (filters, envelopes, buffers) out of the caches, and the
//! next block's processing pays for that. The samples are read next by the writer
//! thread, on another core, long after. Streaming stores skip both: they go to memory
//! through the write-combining buffers without reading the line or keeping it.
//!
//! Streaming stores are weakly ordered: [`fence`] must run before the ring publishes
//! the samples, so that a reader that sees the new write index sees the samples too.

use std::arch::x86_64::{
    __m128, _mm_loadu_ps, _mm_mul_ps, _mm_set1_ps, _mm_sfence, _mm_stream_ps, _mm_unpackhi_ps,
    _mm_unpacklo_ps,
};

use crate::graph::BlockGain;

/// Writes `n` frames of `bufs` × `gain` into `out`, interleaved, with streaming stores
/// where `out` allows it (one or two channels, frames on 16-byte lines); returns
/// `false`, having written nothing, where it does not.
///
/// # Safety
///
/// Where it returns `true`, this thread must run [`fence`] before anything reads or
/// writes `out` again or publishes it (the streaming stores are not ordered with what
/// follows them until then).
#[inline]
pub(super) unsafe fn interleave(
    out: &mut [f32],
    bufs: &[Box<[f32]>],
    gain: BlockGain<'_>,
    n: usize,
) -> bool {
    let ch = bufs.len();
    if !(1..=2).contains(&ch) || out.len() < n * ch || bufs.iter().any(|b| b.len() < n) {
        return false;
    }
    if let BlockGain::Ramp(r) = gain
        && r.len() < n
    {
        return false;
    }
    // Samples before the first 16-byte boundary; a stereo frame must not straddle it.
    let head = out.as_ptr().align_offset(16).min(out.len());
    if !head.is_multiple_of(ch) {
        return false;
    }
    let head = (head / ch).min(n);
    plain(out, bufs, gain, 0..head);
    let body = (n - head) / 4 * 4;
    let base = out[head * ch..].as_mut_ptr();
    // `base` is 16-byte aligned (`head` reached the boundary; where `n` ended first,
    // `body` is 0) and `out` holds `n × ch` samples, so `base` has room for the
    // `body × ch` samples written; every source and the ramp hold at least `n` frames,
    // so the loads at `head + i` for `i < body` stay inside them (all checked above).
    match bufs {
        // SAFETY: as just said.
        [mono] => unsafe { mono_body(base, mono[head..].as_ptr(), gain, head, body) },
        // SAFETY: as just said.
        [l, r] => unsafe {
            stereo_body(
                base,
                l[head..].as_ptr(),
                r[head..].as_ptr(),
                gain,
                head,
                body,
            )
        },
        _ => unreachable!("one or two channels, checked above"),
    }
    plain(out, bufs, gain, head + body..n);
    true
}

/// Frames `frames` of the block with ordinary stores: the ends that do not fill a
/// vector on a 16-byte line.
#[inline(always)]
fn plain(
    out: &mut [f32],
    bufs: &[Box<[f32]>],
    gain: BlockGain<'_>,
    frames: std::ops::Range<usize>,
) {
    let ch = bufs.len();
    for f in frames {
        let g = gain.at(f);
        for (c, b) in bufs.iter().enumerate() {
            out[f * ch + c] = b[f] * g;
        }
    }
}

/// Four frames of gain from frame `at + i`.
///
/// # Safety
///
/// A ramp must hold `at + i + 4` frames.
#[inline(always)]
unsafe fn gains(gain: BlockGain<'_>, at: usize, i: usize) -> __m128 {
    match gain {
        // SAFETY: SSE is part of the x86-64 baseline.
        BlockGain::Const(g) => unsafe { _mm_set1_ps(g) },
        // SAFETY: the caller's bound.
        BlockGain::Ramp(r) => unsafe { _mm_loadu_ps(r.as_ptr().add(at + i)) },
    }
}

/// # Safety
///
/// `out` is 16-byte aligned with room for `body` samples, `src` holds `body` samples
/// and a ramp `at + body` frames; `body` is a multiple of 4.
#[inline(always)]
unsafe fn mono_body(out: *mut f32, src: *const f32, gain: BlockGain<'_>, at: usize, body: usize) {
    for i in (0..body).step_by(4) {
        // SAFETY: the caller's bounds and alignment.
        unsafe {
            let x = _mm_mul_ps(_mm_loadu_ps(src.add(i)), gains(gain, at, i));
            _mm_stream_ps(out.add(i), x);
        }
    }
}

/// # Safety
///
/// `out` is 16-byte aligned with room for `2 × body` samples, `l` and `r` hold `body`
/// samples and a ramp `at + body` frames; `body` is a multiple of 4.
#[inline(always)]
unsafe fn stereo_body(
    out: *mut f32,
    l: *const f32,
    r: *const f32,
    gain: BlockGain<'_>,
    at: usize,
    body: usize,
) {
    for i in (0..body).step_by(4) {
        // SAFETY: the caller's bounds and alignment.
        unsafe {
            let g = gains(gain, at, i);
            let a = _mm_mul_ps(_mm_loadu_ps(l.add(i)), g);
            let b = _mm_mul_ps(_mm_loadu_ps(r.add(i)), g);
            _mm_stream_ps(out.add(2 * i), _mm_unpacklo_ps(a, b));
            _mm_stream_ps(out.add(2 * i + 4), _mm_unpackhi_ps(a, b));
        }
    }
}

/// Orders every streaming store before the stores after it (the ring's write index).
#[inline]
pub(super) fn fence() {
    // SAFETY: `sfence` is part of SSE, which every x86-64 CPU has.
    unsafe { _mm_sfence() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length, every start against the 16-byte lines, both gains, one and two
    /// channels: the same bits as the plain copy, nothing written outside the block, and
    /// a refusal (nothing written) exactly where a stereo frame would straddle a line
    /// (a block too short to reach the line has nothing to straddle).
    #[test]
    fn streams_the_same_bits_as_the_plain_copy_wherever_it_accepts() {
        let ramp: Box<[f32]> = (0..64).map(|i| 1.0 - i as f32 / 128.0).collect();
        for ch in 1..=2usize {
            for n in 0..=41usize {
                let bufs: Vec<Box<[f32]>> = (0..ch)
                    .map(|c| (0..n).map(|i| ((3 * i + c) as f32).sin()).collect())
                    .collect();
                for gain in [BlockGain::Const(0.7), BlockGain::Ramp(&ramp[..n])] {
                    for skew in 0..4 {
                        let mut store = vec![f32::NAN; n * ch + 8];
                        let lead = store.as_ptr().align_offset(16) + skew;
                        let out = &mut store[lead..lead + n * ch];
                        // SAFETY: fenced at once, before `store` is read.
                        let accepted = unsafe { interleave(out, &bufs, gain, n) };
                        fence();
                        let straddles = ((4 - skew) % 4).min(n * ch) % ch != 0;
                        assert_eq!(accepted, !straddles, "{ch} ch, n {n}, skew {skew}");
                        for (k, x) in store.iter().enumerate() {
                            let inside = (lead..lead + n * ch).contains(&k);
                            if accepted && inside {
                                let (f, c) = ((k - lead) / ch, (k - lead) % ch);
                                let want = bufs[c][f] * gain.at(f);
                                assert_eq!(
                                    x.to_bits(),
                                    want.to_bits(),
                                    "{ch} ch, n {n}, skew {skew}, frame {f}"
                                );
                            } else {
                                assert!(
                                    x.is_nan(),
                                    "{ch} ch, n {n}, skew {skew}: wrote sample {k}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    fn refused(out: &mut [f32], bufs: &[Box<[f32]>], gain: BlockGain<'_>, n: usize) -> bool {
        // SAFETY: fenced at once.
        let accepted = unsafe { interleave(out, bufs, gain, n) };
        fence();
        !accepted
    }

    #[test]
    fn refuses_what_it_does_not_stream() {
        let three: Vec<Box<[f32]>> = vec![vec![1.0; 8].into(); 3];
        assert!(refused(&mut [0.0; 24], &three, BlockGain::Const(1.0), 8));
        let short: Vec<Box<[f32]>> = vec![vec![1.0; 4].into(); 2];
        assert!(refused(&mut [0.0; 16], &short, BlockGain::Const(1.0), 8));
        let ramp = [1.0; 4];
        let two: Vec<Box<[f32]>> = vec![vec![1.0; 8].into(); 2];
        assert!(refused(&mut [0.0; 16], &two, BlockGain::Ramp(&ramp), 8));
    }
}
