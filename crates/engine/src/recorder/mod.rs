//! The recorder's real-time half: taps that copy tracked signals into lock-free rings.
//!
//! A take is a set of tracks (a bus as it leaves, a strip pre- or post-fader). The
//! control side builds every track's ring up front ([`RecorderControl::start`]) and
//! sends them to the engine as one boxed [`Taps`]; the engine takes it at the start of
//! a callback, so every track of a take starts on the same frame. The audio thread only
//! copies samples into the rings; a writer thread (in `troubadour-io`) drains them
//! through [`TrackReader`]s. A ring that is full loses the block: the audio thread
//! counts the frames (an atomic per track) and notes where the gap is, so the writer
//! puts that much silence in its place and the tracks stay aligned.

mod reader;
#[cfg(target_arch = "x86_64")]
mod stream_x86;
mod tap;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use troubadour_rt::exchange::{ExchangeControl, exchange};
use troubadour_rt::ring::LockFreeRingBuffer;

pub use reader::{Drained, TrackReader};
use tap::{Gap, TrackTap};
pub(crate) use tap::{RecorderAudio, Taps};

/// Where a track taps the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapPoint {
    /// A strip, after mute/solo and before its fader (the tap pre-fader sends use).
    StripPre(u32),
    /// A strip after its fader (the tap post-fader sends use; pan is per send).
    StripPost(u32),
    /// A bus as it leaves: after its fader, mute and output stage.
    Bus(u32),
}

/// One track to record: where it taps and how many channels it has. Indices are those
/// of the graph running when the take starts and stay fixed for the take: after a
/// structural change during a take, a track whose index is gone or whose channel
/// count changed records silence, but one whose strip or bus was moved or removed so
/// that another of the same width now holds the index records that one (the host
/// does not yet re-resolve tracks by name on a rebuild).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackSpec {
    /// The tap.
    pub tap: TapPoint,
    /// Channels of the strip or bus.
    pub channels: u16,
}

/// Counters of one take, shared by the audio thread (writes) and the control side.
#[derive(Debug, Default)]
pub struct TakeCounters {
    /// Frames the engine has recorded (paused stretches not counted).
    pub frames: AtomicU64,
    /// While set, the engine records nothing (read once per callback: every track
    /// pauses and resumes on the same frame).
    pub paused: AtomicBool,
}

/// The control side's handle on the engine's recorder. One take at a time.
#[derive(Debug)]
pub struct RecorderControl {
    taps: ExchangeControl<Option<Box<Taps>>>,
    take: Option<Arc<TakeCounters>>,
}

/// Why a take could not start or stop.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecorderError {
    /// A take is running already.
    #[error("a take is already recording")]
    Busy,
    /// No take is running.
    #[error("no take is recording")]
    Idle,
    /// The engine has not taken the last change yet (it is not running).
    #[error("the engine has not taken the previous recorder change yet")]
    Pending,
    /// A take with no tracks.
    #[error("a take needs at least one track")]
    NoTracks,
}

/// A new recorder's two ends.
pub(crate) fn recorder() -> (RecorderControl, RecorderAudio) {
    let (taps, audio) = exchange(2);
    (
        RecorderControl { taps, take: None },
        RecorderAudio::new(audio),
    )
}

impl RecorderControl {
    /// Control thread. Starts a take of `tracks`, each with a ring of `ring_frames`
    /// frames (several seconds: what the writer may fall behind before frames are
    /// lost). Returns the take's counters and one reader per track, in order, for the
    /// writer thread. The take starts at the engine's next callback.
    pub fn start(
        &mut self,
        tracks: &[TrackSpec],
        ring_frames: usize,
    ) -> Result<(Arc<TakeCounters>, Vec<TrackReader>), RecorderError> {
        if self.take.is_some() {
            return Err(RecorderError::Busy);
        }
        if tracks.is_empty() {
            return Err(RecorderError::NoTracks);
        }
        self.taps.collect();
        if self.taps.is_full() {
            return Err(RecorderError::Pending);
        }
        let counters = Arc::new(TakeCounters::default());
        let mut taps = Vec::with_capacity(tracks.len());
        let mut readers = Vec::with_capacity(tracks.len());
        for spec in tracks {
            let channels = usize::from(spec.channels.max(1));
            let (mut data_tx, data_rx) = LockFreeRingBuffer::with_capacity(ring_frames * channels);
            // Here rather than on the audio thread's first lap, which would write every
            // sample twice for the take's first seconds.
            data_tx.initialise();
            // Gaps are rare (the disk fell behind); one per lost stretch until the
            // writer catches up is plenty.
            let (gap_tx, gap_rx) = LockFreeRingBuffer::<Gap>::with_capacity(256);
            let lost = Arc::new(AtomicU64::new(0));
            taps.push(TrackTap::new(*spec, data_tx, gap_tx, Arc::clone(&lost)));
            readers.push(TrackReader::new(channels, data_rx, gap_rx, lost));
        }
        let taps = Box::new(Taps::new(taps.into_boxed_slice(), Arc::clone(&counters)));
        if self.taps.send(Some(taps)).is_err() {
            return Err(RecorderError::Pending);
        }
        self.take = Some(Arc::clone(&counters));
        Ok((counters, readers))
    }

    /// Control thread. Ends the take at the engine's next callback; its rings are
    /// handed back and freed here later ([`collect`](Self::collect)), at which point
    /// the readers see the end of their tracks.
    pub fn stop(&mut self) -> Result<(), RecorderError> {
        if self.take.is_none() {
            return Err(RecorderError::Idle);
        }
        self.taps.collect();
        if self.taps.send(None).is_err() {
            return Err(RecorderError::Pending);
        }
        self.take = None;
        Ok(())
    }

    /// Control thread. Pauses or resumes the running take.
    pub fn set_paused(&mut self, paused: bool) -> Result<(), RecorderError> {
        let take = self.take.as_ref().ok_or(RecorderError::Idle)?;
        take.paused.store(paused, Ordering::Relaxed);
        Ok(())
    }

    /// The running take's counters.
    pub fn take(&self) -> Option<&Arc<TakeCounters>> {
        self.take.as_ref()
    }

    /// Control thread. Frees what the engine handed back (a stopped take's rings);
    /// returns true while a change is still waiting for the engine.
    pub fn collect(&mut self) -> bool {
        self.taps.collect();
        self.taps.in_flight() > 0
    }
}
