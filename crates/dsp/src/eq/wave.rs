//! The portable wavefront: one channel's bands in the lanes of a vector (see the
//! module `eq`), written once over [`MulAdd`] so that it compiles plain or fused.

use super::LaneCoefs;

/// Multiply-add, plain or fused: the kernel is written once and compiled both ways.
pub(super) trait MulAdd {
    fn mul_add(a: f64, b: f64, c: f64) -> f64;
}

/// `a × b + c` with two roundings: any CPU.
pub(super) struct Plain;

impl MulAdd for Plain {
    #[inline(always)]
    fn mul_add(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
}

/// The first `L` lanes of `k`, starting at band `first`.
#[inline(always)]
pub(super) fn lanes<const L: usize>(k: &LaneCoefs, first: usize) -> [[f64; L]; 5] {
    k.map(|c| std::array::from_fn(|l| c[first + l]))
}

/// One channel's wavefront over `L` bands while a block runs: the states in f64 and each
/// lane's latest output (lane `b`'s is lane `b + 1`'s next input).
#[derive(Clone, Copy)]
pub(super) struct Wave<const L: usize> {
    pub(super) z1: [f64; L],
    pub(super) z2: [f64; L],
    pub(super) y: [f64; L],
}

impl<const L: usize> Wave<L> {
    #[inline(always)]
    pub(super) fn load(s1: &[f32], s2: &[f32]) -> Self {
        Wave {
            z1: std::array::from_fn(|l| f64::from(s1[l])),
            z2: std::array::from_fn(|l| f64::from(s2[l])),
            y: [0.0; L],
        }
    }

    #[inline(always)]
    pub(super) fn store(&self, s1: &mut [f32], s2: &mut [f32]) {
        for l in 0..L {
            s1[l] = self.z1[l] as f32;
            s2[l] = self.z2[l] as f32;
        }
    }

    /// One wavefront step at time `t` over `chan`. `EDGE`: some lanes are outside the
    /// block (their frame `t − b` is before 0 or past the end) and must stand still.
    #[inline(always)]
    pub(super) fn step<const EDGE: bool, M: MulAdd>(
        &mut self,
        t: usize,
        k: &[[f64; L]; 5],
        chan: &mut [f32],
    ) {
        let n = chan.len();
        let [b0, b1, b2, na1, na2] = k;
        let input = if !EDGE || t < n {
            f64::from(chan[t])
        } else {
            0.0
        };
        let mut x = [input; L];
        x[1..].copy_from_slice(&self.y[..L - 1]);
        let mut out = [0.0; L];
        let mut n1 = [0.0; L];
        let mut n2 = [0.0; L];
        for l in 0..L {
            out[l] = M::mul_add(b0[l], x[l], self.z1[l]);
            n1[l] = M::mul_add(na1[l], out[l], M::mul_add(b1[l], x[l], self.z2[l]));
            n2[l] = M::mul_add(na2[l], out[l], b2[l] * x[l]);
        }
        if EDGE {
            for l in 0..L {
                if t >= l && t - l < n {
                    self.y[l] = out[l];
                    self.z1[l] = n1[l];
                    self.z2[l] = n2[l];
                }
            }
        } else {
            (self.y, self.z1, self.z2) = (out, n1, n2);
        }
        if t >= L - 1 && t - (L - 1) < n {
            chan[t - (L - 1)] = self.y[L - 1] as f32;
        }
    }

    /// The first steps, until every lane is inside the block.
    #[inline(always)]
    pub(super) fn fill<M: MulAdd>(&mut self, k: &[[f64; L]; 5], chan: &mut [f32]) {
        for t in 0..L - 1 {
            self.step::<true, M>(t, k, chan);
        }
    }

    /// The last steps, until the last lane has left the block.
    #[inline(always)]
    pub(super) fn drain<M: MulAdd>(&mut self, k: &[[f64; L]; 5], chan: &mut [f32]) {
        let n = chan.len();
        for t in n.max(L - 1)..n + L - 1 {
            self.step::<true, M>(t, k, chan);
        }
    }

    /// The whole block, scalar code (the compiler overlaps the lanes' recursions).
    #[inline(always)]
    pub(super) fn run<M: MulAdd>(&mut self, k: &[[f64; L]; 5], chan: &mut [f32]) {
        self.fill::<M>(k, chan);
        for t in L - 1..chan.len() {
            self.step::<false, M>(t, k, chan);
        }
        self.drain::<M>(k, chan);
    }
}
