//! A file player's transport: play/pause, loop, seek and the playing position, shared
//! by the control side ([`Player`]), the reader thread and the audio side as atomics.
//!
//! # How a seek stays sound without the audio thread waiting
//!
//! Everything the reader pushes is numbered by its *stream index*: the count of samples
//! pushed into the ring since the player opened (the audio side counts the samples it
//! consumed the same way, so both agree on every sample's index without sharing a
//! counter per sample). A seek goes:
//!
//! 1. control: `seek_request = (generation + 1, frame)` in one atomic, then unparks the
//!    reader;
//! 2. reader: sees the new generation, drops what it had decoded but not pushed, seeks
//!    its decoder (and starts fresh converters, so a resampled file lands on the right
//!    time), stores the file position it now starts from (`seek_base`) and the
//!    stream index of its next sample (the *boundary*), then publishes
//!    `seek_done = (generation, boundary)` with Release. It pushes new samples only
//!    once the audio side has applied it (`applied`, polled every millisecond): the
//!    stale samples are gone then and the whole ring is room, so the first callbacks
//!    after a seek do not run dry. Pushes are whole frames, so a boundary is always on
//!    a frame;
//! 3. audio: at the top of every callback it compares `seek_done` with the last it
//!    applied; a new one means every sample before the boundary is stale. Those are
//!    already in the ring (they were pushed before the Release), so it drops them by
//!    moving the ring's read index (one commit, no copy: bounded work) and counts the
//!    position from `seek_base` again. Until the first new sample arrives it plays
//!    silence that is not counted as an underrun.
//!
//! `seek_base` and `seek_done` are two atomics; the audio side reads `seek_done`,
//! then `seek_base`, then `seek_done` again and applies the pair only when both reads
//! agree (else at the next callback), so it never pairs one seek's boundary with
//! another's base.
//!
//! The end of a file played once is a stream index too (`end_at`, `u64::MAX` while
//! open-ended): the audio side stops consuming there, reports the end (`playing`
//! false, `ended` true) and keeps its position at the file's length. While looping,
//! the reader reads the next pass ahead and publishes where it begins (`wrap_at`, the
//! first such index the audio side has not reached). Whether to go on into it is the
//! audio side's decision, taken as it gets there: with `loop` off it stops at
//! `wrap_at` as at an end. So turning loop off stops the player at the end of the
//! pass it is in, however late the reader notices, and turning it on again before
//! then plays on into what is already read, as if it had never been off.
//! Pause is the audio side not consuming (silence, no underrun counted); the ring stays
//! full, so play resumes at once, from the same sample.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::Shared;

/// Generation bits at the top of a packed seek word; the rest is a frame or index.
const GEN_SHIFT: u32 = 48;
const INDEX_MASK: u64 = (1 << GEN_SHIFT) - 1;

pub(super) fn pack(generation: u64, index: u64) -> u64 {
    ((generation & 0xffff) << GEN_SHIFT) | (index & INDEX_MASK)
}

pub(super) fn unpack(word: u64) -> (u64, u64) {
    (word >> GEN_SHIFT, word & INDEX_MASK)
}

/// The atomics every side of one player shares.
#[derive(Debug)]
pub(super) struct Transport {
    /// Control → audio: consume (true) or hold (false). The audio side stores false
    /// when a file played once reaches its end.
    pub playing: AtomicBool,
    /// Control → reader: what to do at the end of the file.
    pub looped: AtomicBool,
    /// Control → reader: `(generation, frame at the engine's rate)`.
    pub seek_request: AtomicU64,
    /// Reader → audio: `(generation, boundary stream index)` of the last seek done.
    pub seek_done: AtomicU64,
    /// Reader → audio: the file position (frames) at that boundary.
    pub seek_base: AtomicU64,
    /// Reader → audio: the stream index (samples) where the stream ends.
    pub end_at: AtomicU64,
    /// Reader → audio: the stream index where the first looped pass not yet reached
    /// begins (`u64::MAX`: none read yet).
    pub wrap_at: AtomicU64,
    /// Frames of one pass over the file at the engine's rate (from the header until
    /// the reader has read a pass to its end, then as counted).
    pub length: AtomicU64,
    /// Audio → all: the file position, frames at the engine's rate.
    pub position: AtomicU64,
    /// Audio → reader: the stream index (samples) consumed so far.
    pub consumed: AtomicU64,
    /// Audio → control: a file played once reached its end (cleared by a seek).
    pub ended: AtomicBool,
    /// Audio → control: the generation of the last seek it applied.
    pub applied: AtomicU32,
}

impl Transport {
    pub(super) fn new(looped: bool, length: u64) -> Self {
        Transport {
            playing: AtomicBool::new(true),
            looped: AtomicBool::new(looped),
            seek_request: AtomicU64::new(0),
            seek_done: AtomicU64::new(0),
            seek_base: AtomicU64::new(0),
            end_at: AtomicU64::new(u64::MAX),
            wrap_at: AtomicU64::new(u64::MAX),
            length: AtomicU64::new(length),
            position: AtomicU64::new(0),
            consumed: AtomicU64::new(0),
            ended: AtomicBool::new(false),
            applied: AtomicU32::new(0),
        }
    }
}

/// What a player is doing, read at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayerState {
    /// Playing (false: paused, or a file played once that reached its end).
    pub playing: bool,
    /// Looping at the end of the file.
    pub looped: bool,
    /// Where it plays, seconds from the file's start (the target of a seek not yet
    /// carried out).
    pub position_s: f64,
    /// The file's length at the engine's rate, seconds.
    pub length_s: f64,
    /// A file played once reached its end.
    pub ended: bool,
}

/// The control side's handle on one file player. It belongs to the running stream,
/// not to a graph: a graph swap that carries the stream over keeps the handle valid.
#[derive(Debug, Clone)]
pub struct Player {
    pub(super) shared: Arc<Shared>,
    pub(super) rate: u32,
}

impl Player {
    fn t(&self) -> &Transport {
        &self.shared.transport
    }

    fn wake(&self) {
        if let Some(reader) = self.shared.reader.get() {
            reader.unpark();
        }
    }

    /// Plays (true) or pauses (false). Playing a file that played once to its end
    /// starts it again from its beginning.
    pub fn set_playing(&self, on: bool) {
        if on && self.t().ended.load(Ordering::Acquire) && !self.seek_pending() {
            self.seek_s(0.0);
        }
        self.t().playing.store(on, Ordering::Release);
    }

    /// Loops at the end of the file (true) or stops there (false), from now on.
    pub fn set_looped(&self, on: bool) {
        if self.t().looped.swap(on, Ordering::AcqRel) != on {
            self.wake();
        }
    }

    /// Seeks to `seconds` from the start, clamped to `0..=length`; the next audio
    /// played is the file's content there.
    pub fn seek_s(&self, seconds: f64) {
        let length = self.t().length.load(Ordering::Acquire);
        let frame = if seconds.is_finite() {
            (seconds.max(0.0) * f64::from(self.rate)).round() as u64
        } else {
            0
        };
        // A length not known yet (a compressed file whose header does not say) is
        // no bound: the reader stops at the end of the file.
        let frame = if length > 0 { frame.min(length) } else { frame };
        // One writer (the control thread), so load-then-store cannot lose a request.
        let (generation, _) = unpack(self.t().seek_request.load(Ordering::Acquire));
        self.t()
            .seek_request
            .store(pack(generation + 1, frame), Ordering::Release);
        self.wake();
    }

    /// Whether a seek asked for has not been carried out by the audio side yet.
    fn seek_pending(&self) -> bool {
        let (requested, _) = unpack(self.t().seek_request.load(Ordering::Acquire));
        requested != u64::from(self.t().applied.load(Ordering::Acquire))
    }

    /// The transport now.
    pub fn state(&self) -> PlayerState {
        let t = self.t();
        let rate = f64::from(self.rate);
        let (_, target) = unpack(t.seek_request.load(Ordering::Acquire));
        let pending = self.seek_pending();
        let position = if pending {
            target
        } else {
            t.position.load(Ordering::Acquire)
        };
        PlayerState {
            playing: t.playing.load(Ordering::Acquire),
            looped: t.looped.load(Ordering::Acquire),
            position_s: position as f64 / rate,
            length_s: t.length.load(Ordering::Acquire) as f64 / rate,
            ended: !pending && t.ended.load(Ordering::Acquire),
        }
    }

    /// Whether two handles are for the same running stream.
    pub fn same(&self, other: &Player) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}
