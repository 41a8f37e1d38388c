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

pub(crate) use compressed::CompressedDecoder;
pub(crate) use decode::Decoder;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use troubadour_rt::ring::{Consumer, LockFreeRingBuffer};

use crate::audio_file::AudioFileError;

/// Seconds of audio the ring holds: long enough to ride out a slow disk or a busy
/// machine, short enough that memory stays small (2 s of stereo f32 at 48 kHz: 1 MiB).
pub const RING_SECONDS: f64 = 2.0;

/// Test hook, read when a player opens: its reader sleeps this many milliseconds after
/// each chunk of 8192 frames it decodes, so that it falls behind and the player
/// underruns (400 ms makes it read about 20 000 frames a second).
pub const STALL_ENV: &str = "TROUBADOUR_TEST_PLAYER_STALL_MS";

/// What the reader thread tells the player.
#[derive(Debug)]
struct Shared {
    path: PathBuf,
    /// Set (Release) after the reader has pushed its last frame: the file played once
    /// to its end, or reading failed.
    finished: AtomicBool,
    /// Why reading stopped early, if it did.
    error: OnceLock<String>,
}

/// The audio side of a file player.
#[derive(Debug)]
pub(crate) struct FileStream {
    ring: Consumer<f32>,
    shared: Arc<Shared>,
    /// Interleaved channels in the ring (the file's).
    channels: usize,
    /// The reader thread, woken by [`wait_for`](Self::wait_for) (never by the audio
    /// thread).
    reader: std::thread::Thread,
}

impl FileStream {
    /// Control side: opens the file at `path` (errors name it and say what is wrong) and
    /// starts its reader, which plays it at `rate` Hz, looped or once.
    pub(crate) fn open(path: &Path, rate: u32, looped: bool) -> Result<Self, AudioFileError> {
        let decoder = decode::open(path)?;
        let channels = decoder.channels();
        let samples = (RING_SECONDS * f64::from(rate)) as usize * channels;
        let (producer, consumer) = LockFreeRingBuffer::with_capacity(samples);
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            finished: AtomicBool::new(false),
            error: OnceLock::new(),
        });
        let reader = reader::Reader {
            decoder,
            ring: producer,
            shared: Arc::clone(&shared),
            rate,
            looped,
            stall: std::env::var(STALL_ENV)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_millis),
        };
        let handle = std::thread::Builder::new()
            .name("troubadour-player".into())
            .spawn(move || reader.run())
            .map_err(|source| AudioFileError::Reader {
                path: path.to_path_buf(),
                source,
            })?;
        let stream = FileStream {
            ring: consumer,
            shared,
            channels,
            reader: handle.thread().clone(),
        };
        // The graph plays as soon as it is swapped in: give it a second in hand (or the
        // whole of a shorter file) before it can.
        stream.wait_for(rate as usize);
        Ok(stream)
    }

    /// Audio thread: fills `bufs[ch][..n]` (a mono file feeds every channel) and
    /// returns the frames of silence played because the reader was behind. Wait-free.
    #[inline]
    pub(crate) fn render(&mut self, bufs: &mut [Box<[f32]>], n: usize) -> u64 {
        let ch = self.channels;
        let mut got = self.ring.len() / ch;
        let mut finished = false;
        if got < n {
            // Checked before looking again: after `finished` is seen, the ring holds
            // everything the reader will ever push.
            finished = self.shared.finished.load(Ordering::Acquire);
            got = self.ring.len() / ch;
        }
        let take = got.min(n);
        if take > 0
            && let Ok(chunk) = self.ring.read_chunk(take * ch)
        {
            let (a, b) = chunk.as_slices();
            for (c, buf) in bufs.iter_mut().enumerate() {
                // Channel `src` of every frame, across the ring's wrap if there is one.
                let src = c.min(ch - 1);
                let samples = a.iter().chain(b).skip(src).step_by(ch);
                for (x, s) in buf[..take].iter_mut().zip(samples) {
                    *x = *s;
                }
            }
            chunk.commit_all();
        }
        for buf in bufs.iter_mut() {
            buf[take..n].fill(0.0);
        }
        if finished { 0 } else { (n - take) as u64 }
    }

    /// Not on the audio thread: waits until the next `frames` frames are ready, or the
    /// file has ended, so that the next [`render`](Self::render) cannot underrun.
    pub(crate) fn wait_for(&self, frames: usize) {
        let want = (frames * self.channels).min(self.ring.capacity());
        while self.ring.len() < want && !self.shared.finished.load(Ordering::Acquire) {
            self.reader.unpark();
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// Why the reader stopped before the end of the file, if it did.
    pub(crate) fn error(&self) -> Option<&str> {
        self.shared.error.get().map(String::as_str)
    }
}
