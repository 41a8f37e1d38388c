//! Between interleaved frames (the streams) and planar channels (the history).

/// `out.len() / CH` frames of the planar `history` (channel `c` from `c · cap + at`),
/// interleaved into `out`.
#[inline(always)]
pub(super) fn interleave<S: Copy, const CH: usize>(
    history: &[S],
    cap: usize,
    at: usize,
    out: &mut [S],
) {
    let n = out.len() / CH;
    let src: [&[S]; CH] = std::array::from_fn(|c| &history[c * cap + at..][..n]);
    for (k, frame) in out.chunks_exact_mut(CH).enumerate() {
        for (y, channel) in frame.iter_mut().zip(&src) {
            *y = channel[k];
        }
    }
}

/// The frames of the interleaved `input` (`ch` channels) into the planar `planes`
/// (channel `c` from `c · stride + at`).
#[inline]
pub(super) fn deinterleave<S: Copy>(
    input: &[S],
    ch: usize,
    planes: &mut [S],
    stride: usize,
    at: usize,
) {
    let n = input.len() / ch;
    // The common channel counts with the count known at compile time, so that the
    // compiler vectorises them.
    match ch {
        1 => planes[at..at + n].copy_from_slice(input),
        2 => deinterleave_n::<S, 2>(input, planes, stride, at),
        4 => deinterleave_n::<S, 4>(input, planes, stride, at),
        8 => deinterleave_n::<S, 8>(input, planes, stride, at),
        _ => {
            for c in 0..ch {
                let dst = &mut planes[c * stride + at..][..n];
                for (d, frame) in dst.iter_mut().zip(input.chunks_exact(ch)) {
                    *d = frame[c];
                }
            }
        }
    }
}

/// [`deinterleave`] for `CH` channels.
#[inline(always)]
fn deinterleave_n<S: Copy, const CH: usize>(
    input: &[S],
    planes: &mut [S],
    stride: usize,
    at: usize,
) {
    let n = input.len() / CH;
    let mut rest = &mut planes[at..];
    let mut dst: [&mut [S]; CH] = std::array::from_fn(|c| {
        let (plane, tail) =
            std::mem::take(&mut rest).split_at_mut(if c + 1 < CH { stride } else { n });
        rest = tail;
        &mut plane[..n]
    });
    for (k, frame) in input.chunks_exact(CH).enumerate() {
        for (plane, &x) in dst.iter_mut().zip(frame) {
            plane[k] = x;
        }
    }
}
