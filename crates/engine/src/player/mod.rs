//! File players that stream from disk in constant memory.
//!
//! Each file source gets a reader thread ([`reader`]) that decodes ahead and, where the
//! file's rate differs from the engine's, converts it, into a lock-free ring of a few
//! seconds. The audio thread only copies out of the ring ([`FileStream::render`]); when
//! the reader falls behind it plays silence for the gap and counts it, never waits.
//! Offline rendering has no deadline, so it waits for the reader instead
//! ([`FileStream::wait_for`]) and stays deterministic.
//!
//! The audio side holds a [`FileStream`]; the reader thread holds the ring's producer
//! and ends when the player is dropped (the ring is then abandoned) or when a file
//! played once has been read to its end.

mod compressed;
mod decode;
mod reader;
mod transport;

pub(crate) use compressed::CompressedDecoder;
pub(crate) use decode::Decoder;
pub use transport::{Player, PlayerState};

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use troubadour_rt::ring::{Consumer, LockFreeRingBuffer};

use crate::audio_file::AudioFileError;
use transport::{Transport, unpack};

/// Seconds of audio the ring holds: long enough to ride out a slow disk or a busy
/// machine, short enough that memory stays small (2 s of stereo f32 at 48 kHz: 1 MiB).
pub const RING_SECONDS: f64 = 2.0;

/// The ring of an offline render's players, which wait for their readers instead of
/// riding anything out: room for two of the reader's large reads (8192 frames each) at
/// 48 kHz, so decoding and mixing overlap, in an eighth of the memory.
pub const RENDER_RING_SECONDS: f64 = 0.35;

/// How file sources are opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FileOptions {
    /// A file that is not there plays silence instead of failing the build (a live
    /// mixer's strip waiting for its file).
    pub silent_missing: bool,
    /// Seconds of audio each player's ring holds.
    pub ring_seconds: f64,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            silent_missing: false,
            ring_seconds: RING_SECONDS,
        }
    }
}

/// Test hook, read when a player opens: its reader sleeps this many milliseconds after
/// each chunk of 8192 frames it decodes, so that it falls behind and the player
/// underruns (400 ms makes it read about 20 000 frames a second).
pub const STALL_ENV: &str = "TROUBADOUR_TEST_PLAYER_STALL_MS";

/// What the reader thread, the audio side and the control side share.
#[derive(Debug)]
struct Shared {
    path: PathBuf,
    /// Why reading stopped early, if it did.
    error: OnceLock<String>,
    transport: Transport,
    /// The reader thread, for the control side to wake on a seek or a loop change.
    reader: OnceLock<std::thread::Thread>,
}

/// The audio side of a file player.
#[derive(Debug)]
pub(crate) struct FileStream {
    ring: Consumer<f32>,
    shared: Arc<Shared>,
    /// Interleaved channels in the ring (the file's).
    channels: usize,
    /// The engine's rate (the control handle's seconds).
    rate: u32,
    /// Stream index (samples) consumed so far.
    consumed: u64,
    /// The last `seek_done` applied.
    seen_seek: u64,
    /// The file position of the next sample, frames (kept within one pass while the
    /// stream loops).
    position: u64,
    /// Since a seek, no new sample has been played yet: silence then is no underrun.
    refilling: bool,
    /// A file played once reached its end.
    ended: bool,
}

impl FileStream {
    /// Control side: opens the file at `path` (errors name it and say what is wrong) and
    /// starts its reader, which plays it at `rate` Hz, looped or once, and keeps
    /// `ring_seconds` of it decoded ahead.
    pub(crate) fn open(
        path: &Path,
        rate: u32,
        looped: bool,
        ring_seconds: f64,
    ) -> Result<Self, AudioFileError> {
        let decoder = decode::open(path)?;
        let channels = decoder.channels();
        let length = decoder.frames().map_or(0, |n| {
            troubadour_dsp::resample::output_length(n, decoder.sample_rate(), rate)
        });
        let samples = (ring_seconds.max(0.01) * f64::from(rate)) as usize * channels;
        let (producer, consumer) = LockFreeRingBuffer::with_capacity(samples);
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            error: OnceLock::new(),
            transport: Transport::new(looped, length),
            reader: OnceLock::new(),
        });
        let reader = reader::Reader::new(
            decoder,
            producer,
            Arc::clone(&shared),
            rate,
            std::env::var(STALL_ENV)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_millis),
        );
        let handle = std::thread::Builder::new()
            .name("troubadour-player".into())
            .spawn(move || reader.run())
            .map_err(|source| AudioFileError::Reader {
                path: path.to_path_buf(),
                source,
            })?;
        let _ = shared.reader.set(handle.thread().clone());
        let stream = FileStream {
            ring: consumer,
            shared,
            channels,
            rate,
            consumed: 0,
            seen_seek: 0,
            position: 0,
            refilling: false,
            ended: false,
        };
        // The graph plays as soon as it is swapped in: give it a second in hand (or the
        // whole of a shorter file) before it can.
        stream.wait_for(rate as usize);
        Ok(stream)
    }

    /// The control side's handle on this stream's transport.
    pub(crate) fn player(&self) -> Player {
        Player {
            shared: Arc::clone(&self.shared),
            rate: self.rate,
        }
    }

    /// Audio thread: applies a seek the reader has carried out: drops the stale samples
    /// before its boundary (already in the ring) and counts from its position.
    #[inline]
    fn apply_seek(&mut self) {
        let t = &self.shared.transport;
        let done = t.seek_done.load(Ordering::Acquire);
        if done == self.seen_seek {
            return;
        }
        let base = t.seek_base.load(Ordering::Acquire);
        if t.seek_done.load(Ordering::Acquire) != done {
            // Another seek landed between the two reads: take it whole next callback.
            return;
        }
        let (generation, boundary) = unpack(done);
        let stale = boundary.saturating_sub(self.consumed) as usize;
        if stale > 0
            && let Ok(chunk) = self.ring.read_chunk(stale.min(self.ring.len()))
        {
            chunk.commit_all();
        }
        self.position = base + self.consumed.saturating_sub(boundary) / self.channels as u64;
        self.consumed = self.consumed.max(boundary);
        self.seen_seek = done;
        self.refilling = true;
        self.ended = false;
        t.ended.store(false, Ordering::Release);
        t.applied.store(generation as u32, Ordering::Release);
    }

    /// Audio thread: fills `bufs[ch][..n]` (a mono file feeds every channel) and
    /// returns the frames of silence played because the reader was behind. Wait-free:
    /// atomics, one ring read and at most one ring skip.
    #[inline]
    pub(crate) fn render(&mut self, bufs: &mut [Box<[f32]>], n: usize) -> u64 {
        self.apply_seek();
        let t = &self.shared.transport;
        let ch = self.channels;
        let mut take = 0;
        let mut underrun = 0;
        // Read after the ring's length: a sample counted there and past the end is
        // never played.
        let got = self.ring.len() / ch;
        let end_at = self.stop_at();
        if t.playing.load(Ordering::Acquire) && !self.ended {
            let left = if end_at == u64::MAX {
                usize::MAX
            } else {
                (end_at.saturating_sub(self.consumed) / ch as u64) as usize
            };
            take = got.min(n).min(left);
            if take > 0
                && let Ok(chunk) = self.ring.read_chunk(take * ch)
            {
                let (a, b) = chunk.as_slices();
                let wrap_between_frames = a.len() % ch == 0;
                for (c, buf) in bufs.iter_mut().enumerate() {
                    // Channel `src` of every frame, across the ring's wrap if there is one.
                    let src = c.min(ch - 1);
                    if wrap_between_frames {
                        let (first, second) = buf[..take].split_at_mut(a.len() / ch);
                        deinterleave(a, ch, src, first);
                        deinterleave(b, ch, src, second);
                    } else {
                        // The wrap falls inside a frame.
                        let samples = a.iter().chain(b).skip(src).step_by(ch);
                        for (x, s) in buf[..take].iter_mut().zip(samples) {
                            *x = *s;
                        }
                    }
                }
                chunk.commit_all();
                self.consumed += (take * ch) as u64;
                self.position += take as u64;
                self.refilling = false;
            }
            if self.consumed < end_at && !self.refilling {
                underrun = (n - take) as u64;
            }
            t.consumed.store(self.consumed, Ordering::Release);
        }
        if self.consumed >= end_at && !self.ended {
            // The end of a file played once (or a seek to it while paused).
            self.ended = true;
            t.ended.store(true, Ordering::Release);
            t.playing.store(false, Ordering::Release);
        }
        // Every callback, paused or not: a seek while paused moves it too.
        self.publish_position(end_at);
        for buf in bufs.iter_mut() {
            buf[take..n].fill(0.0);
        }
        underrun
    }

    /// Audio thread: the stream index to stop at: the file's end when played once, or,
    /// with loop turned off, the end of the pass it is in.
    #[inline]
    fn stop_at(&self) -> u64 {
        let t = &self.shared.transport;
        let end_at = t.end_at.load(Ordering::Acquire);
        if t.looped.load(Ordering::Acquire) {
            return end_at;
        }
        let wrap_at = t.wrap_at.load(Ordering::Acquire);
        if wrap_at >= self.consumed {
            // The next pass begins there (or none is read yet, and the reader ends the
            // stream at the end of this one: `end_at`).
            return end_at.min(wrap_at);
        }
        // A pass begun since the reader last looked: it ends where the file does. Its
        // length is exact, as a pass has been read to its end.
        let length = t.length.load(Ordering::Relaxed);
        let left = length.saturating_sub(self.position) * self.channels as u64;
        end_at.min(self.consumed + left)
    }

    /// Audio thread: the file position of the next sample, wrapped at the file's
    /// length while the stream goes on past it (a loop).
    #[inline]
    fn publish_position(&mut self, end_at: u64) {
        let t = &self.shared.transport;
        let length = t.length.load(Ordering::Relaxed);
        if length > 0 && self.position >= length && self.consumed < end_at && !self.ended {
            self.position -= length;
            // A length learnt only after a pass (no length in the header), or a file
            // shorter than a block: more than one pass behind.
            if self.position >= length {
                self.position %= length;
            }
        }
        let position = if length > 0 {
            self.position.min(length)
        } else {
            self.position
        };
        t.position.store(position, Ordering::Release);
    }

    /// Not on the audio thread: waits until the next `frames` frames are ready, or the
    /// stream has ended, so that the next [`render`](Self::render) cannot underrun.
    pub(crate) fn wait_for(&self, frames: usize) {
        let t = &self.shared.transport;
        if t.seek_done.load(Ordering::Acquire) != self.seen_seek {
            // A seek the next render applies first: the reader pushes nothing new
            // until it has (what is in the ring now is stale), so waiting here would
            // wait for ever.
            return;
        }
        if t.ended.load(Ordering::Acquire) {
            // Stopped: nothing is consumed until a seek, which the check above sees.
            return;
        }
        let want = (frames * self.channels).min(self.ring.capacity());
        while self.ring.len() < want
            && self.consumed + (self.ring.len() as u64) < t.end_at.load(Ordering::Acquire)
        {
            if let Some(reader) = self.shared.reader.get() {
                reader.unpark();
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// Why the reader stopped before the end of the file, if it did.
    pub(crate) fn error(&self) -> Option<&str> {
        self.shared.error.get().map(String::as_str)
    }
}

/// Channel `src` of the whole frames of `ch` channels in `from`, into `to` (as many as
/// it holds). Mono and stereo, the usual files, get loops the compiler unrolls.
#[inline]
fn deinterleave(from: &[f32], ch: usize, src: usize, to: &mut [f32]) {
    match ch {
        1 => to.copy_from_slice(&from[..to.len()]),
        2 => {
            for (x, f) in to.iter_mut().zip(from.chunks_exact(2)) {
                *x = f[src & 1];
            }
        }
        _ => {
            for (x, f) in to.iter_mut().zip(from.chunks_exact(ch)) {
                *x = f[src];
            }
        }
    }
}
