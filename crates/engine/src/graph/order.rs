//! Which strip is processed when: sidechain sources before their listeners.

use super::strip::StripState;

/// Strip `i` mutably and strip `j` (≠ `i`) shared, from one slice.
pub(super) fn pair(
    strips: &mut [StripState],
    i: usize,
    j: usize,
) -> (&mut StripState, &StripState) {
    if i < j {
        let (a, b) = strips.split_at_mut(j);
        (&mut a[i], &b[0])
    } else {
        let (a, b) = strips.split_at_mut(i);
        (&mut b[0], &a[j])
    }
}

/// An order in which every sidechain source comes before the strips listening to it
/// (validation rejects loops; any left over are appended rather than lost).
pub(super) fn processing_order(strips: &[StripState]) -> Box<[u32]> {
    let mut order = Vec::with_capacity(strips.len());
    let mut placed = vec![false; strips.len()];
    fn place(
        i: usize,
        strips: &[StripState],
        placed: &mut [bool],
        order: &mut Vec<u32>,
        depth: usize,
    ) {
        if placed[i] || depth > strips.len() {
            return;
        }
        if let Some(j) = strips[i].sidechain {
            place(j as usize, strips, placed, order, depth + 1);
        }
        if !placed[i] {
            placed[i] = true;
            order.push(i as u32);
        }
    }
    for i in 0..strips.len() {
        place(i, strips, &mut placed, &mut order, 0);
    }
    order.into_boxed_slice()
}
