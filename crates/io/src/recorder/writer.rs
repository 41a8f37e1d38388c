//! The writer thread: drains every track's ring to its file in large writes, rewrites
//! the headers every few seconds, and finishes the files when the take ends.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use troubadour_engine::recorder::TrackReader;

use super::format::TrackWriter;

/// Frames one write covers at most (about 0.7 s at 48 kHz): large writes, yet the
/// writer comes back to the other tracks often.
const CHUNK_FRAMES: usize = 32_768;

/// How often the headers are brought up to date (and the data synced to disk): what a
/// crash or power cut may lose at most.
pub const HEADER_EVERY: Duration = Duration::from_secs(2);

/// How long the writer sleeps when every ring was empty.
const IDLE: Duration = Duration::from_millis(20);

/// Test hook, read once when a writer starts: it sleeps this many milliseconds before
/// its first write, as a disk that stalls would, so the rings fill and lose frames.
pub const STALL_ENV: &str = "TROUBADOUR_TEST_WRITER_STALL_MS";

/// One track's file as the writer thread owns it.
#[derive(Debug)]
pub(crate) struct TrackFile {
    pub reader: TrackReader,
    pub out: TrackWriter,
    pub path: PathBuf,
}

/// How a track's file ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackResult {
    /// The file.
    pub path: PathBuf,
    /// Frames it holds.
    pub frames: u64,
    /// Of those, silence standing in for frames lost while the disk fell behind.
    pub dropped_frames: u64,
}

/// A write failed (the disk is full, or gone): the take stops there, the files keep
/// what was written.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {source}")]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: io::Error,
}

/// Progress the control side can read while the writer runs.
#[derive(Debug, Default)]
pub struct WriterProgress {
    /// Frames written to every file so far (the least of the tracks).
    pub frames: AtomicU64,
}

fn write_err(path: &std::path::Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError {
        path: path.to_path_buf(),
        source,
    }
}

/// Starts the writer thread for `files`.
pub(crate) fn spawn(
    files: Vec<TrackFile>,
    progress: Arc<WriterProgress>,
    stall: Option<Duration>,
) -> io::Result<JoinHandle<Result<Vec<TrackResult>, WriteError>>> {
    let stall = stall.or_else(|| {
        std::env::var(STALL_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis)
    });
    std::thread::Builder::new()
        .name("recorder-writer".into())
        .spawn(move || run(files, &progress, stall))
}

fn run(
    mut files: Vec<TrackFile>,
    progress: &WriterProgress,
    mut stall: Option<Duration>,
) -> Result<Vec<TrackResult>, WriteError> {
    let mut buf: Vec<f32> = Vec::with_capacity(CHUNK_FRAMES * 8);
    let mut last_header = Instant::now();
    let mut silence = vec![0u64; files.len()];
    loop {
        let mut wrote = false;
        let mut finished = 0;
        for (t, f) in files.iter_mut().enumerate() {
            loop {
                buf.clear();
                let d = f.reader.drain(&mut buf, CHUNK_FRAMES);
                if d.frames > 0 {
                    if let Some(s) = stall.take() {
                        std::thread::sleep(s);
                    }
                    f.out
                        .write_interleaved_f32(&buf)
                        .map_err(write_err(&f.path))?;
                    silence[t] += d.silence as u64;
                    wrote = true;
                }
                if d.finished {
                    finished += 1;
                }
                if d.frames < CHUNK_FRAMES {
                    break;
                }
            }
        }
        let least = files.iter().map(|f| f.out.frames()).min().unwrap_or(0);
        progress.frames.store(least, Ordering::Relaxed);
        if finished == files.len() {
            break;
        }
        if last_header.elapsed() >= HEADER_EVERY {
            for f in files.iter_mut() {
                f.out.checkpoint().map_err(write_err(&f.path))?;
            }
            last_header = Instant::now();
        }
        if !wrote {
            std::thread::sleep(IDLE);
        }
    }
    let mut results = Vec::with_capacity(files.len());
    for (f, silence) in files.into_iter().zip(silence) {
        let frames = f.out.frames();
        f.out.finish().map_err(write_err(&f.path))?;
        results.push(TrackResult {
            path: f.path,
            frames,
            dropped_frames: silence,
        });
    }
    Ok(results)
}
