//! A take on disk: its folder, files and manifest, from start to stop.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use troubadour_engine::recorder::{RecorderControl, RecorderError, TakeCounters, TrackSpec};

use super::clock::utc_stamps;
use super::format::{TakeFormat, TrackWriter};
use super::manifest::{Manifest, ManifestTrack, Marker, TakeState};
use super::writer::{self, TrackFile, TrackResult, WriteError, WriterProgress};
use crate::wav::RIFF_MAX;

/// What a take records and where.
#[derive(Debug, Clone)]
pub struct TakeSetup {
    /// The folder takes go in (each take gets a folder of its own inside).
    pub dir: PathBuf,
    /// The session's name, for the manifest.
    pub session: String,
    /// The engine's rate.
    pub sample_rate: u32,
    /// The files' format.
    pub format: TakeFormat,
    /// The tracks: their names (`strip/Host:pre`) and taps.
    pub tracks: Vec<(String, TrackSpec)>,
    /// Seconds of audio each track's ring holds: how long the disk may stall before
    /// frames are lost.
    pub buffer_seconds: f64,
    /// Files grow into RF64 past this many bytes ([`RIFF_MAX`] but for tests).
    pub rf64_threshold: u64,
    /// Test hook: the writer stalls this long before its first write, as a stalled
    /// disk would. `None` reads [`STALL_ENV`](super::STALL_ENV) (unset: no stall).
    pub writer_stall: Option<Duration>,
}

impl TakeSetup {
    /// The default threshold at which files become RF64 (4 GiB).
    pub const RF64_AT: u64 = RIFF_MAX;
}

/// Why a take failed.
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    /// The engine refused (a take runs already, none runs, no tracks).
    #[error(transparent)]
    Engine(#[from] RecorderError),
    /// The folder, a file or the manifest could not be written.
    #[error("{path}: {source}")]
    Io {
        /// Which.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The writer failed mid-take (its files keep what was written).
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The engine did not take the stop in time (it is not running).
    #[error("the engine did not end the take within {0:?}")]
    Timeout(Duration),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> TakeError + '_ {
    move |source| TakeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A file name for track `name`: `strip/Guest:pre` becomes `strip-Guest-pre.wav` (or
/// `.flac`).
fn file_name(name: &str, ext: &str, taken: &[ManifestTrack]) -> String {
    let stem: String = name
        .chars()
        .map(|c| match c {
            '/' | ':' | ' ' => '-',
            c if c.is_alphanumeric() || c == '-' || c == '_' || c == '.' => c,
            _ => '_',
        })
        .collect();
    let mut file = format!("{stem}.{ext}");
    let mut n = 2;
    while taken.iter().any(|t| t.file == file) {
        file = format!("{stem}-{n}.{ext}");
        n += 1;
    }
    file
}

/// A take being recorded. Control side.
#[derive(Debug)]
pub struct Take {
    folder: PathBuf,
    manifest: Manifest,
    counters: Arc<TakeCounters>,
    lost: Vec<Arc<AtomicU64>>,
    progress: Arc<WriterProgress>,
    writer: Option<JoinHandle<Result<Vec<TrackResult>, WriteError>>>,
    buffer_seconds: f64,
}

/// How a take ended.
#[derive(Debug, Clone)]
pub struct TakeSummary {
    /// The take's folder.
    pub folder: PathBuf,
    /// Its final manifest.
    pub manifest: Manifest,
}

impl Take {
    /// Creates the take's folder, files and manifest, starts the writer thread and
    /// tells the engine to start recording at its next callback.
    pub fn start(recorder: &mut RecorderControl, setup: &TakeSetup) -> Result<Take, TakeError> {
        if recorder.take().is_some() {
            return Err(RecorderError::Busy.into());
        }
        if setup.tracks.is_empty() {
            return Err(RecorderError::NoTracks.into());
        }
        std::fs::create_dir_all(&setup.dir).map_err(io_err(&setup.dir))?;
        let (started, stem) = utc_stamps(SystemTime::now());
        let mut folder = setup.dir.join(&stem);
        let mut n = 2;
        // Two takes within a second: the second gets a suffix (still sorting after).
        while folder.exists() {
            folder = setup.dir.join(format!("{stem}-{n}"));
            n += 1;
        }
        std::fs::create_dir(&folder).map_err(io_err(&folder))?;
        let mut manifest = Manifest {
            version: 1,
            session: setup.session.clone(),
            sample_rate: setup.sample_rate,
            started_utc: started,
            format: setup.format.name().into(),
            state: TakeState::Recording,
            tracks: Vec::new(),
            markers: Vec::new(),
        };
        let mut wavs = Vec::new();
        for (name, spec) in &setup.tracks {
            let file = file_name(name, setup.format.extension(), &manifest.tracks);
            let path = folder.join(&file);
            let created = File::create(&path).map_err(io_err(&path))?;
            let wav = TrackWriter::create(
                created,
                setup.format,
                spec.channels,
                setup.sample_rate,
                setup.rf64_threshold,
                wavs.len() as u64 + 1,
            )
            .map_err(io_err(&path))?;
            wavs.push((wav, path));
            manifest.tracks.push(ManifestTrack {
                name: name.clone(),
                file,
                channels: spec.channels,
                frames: 0,
                dropped_frames: 0,
            });
        }
        manifest.save(&folder).map_err(io_err(&folder))?;
        let specs: Vec<TrackSpec> = setup.tracks.iter().map(|(_, s)| *s).collect();
        let ring_frames = (setup.buffer_seconds * f64::from(setup.sample_rate)).ceil() as usize;
        let (counters, readers) = recorder.start(&specs, ring_frames)?;
        let lost = readers.iter().map(|r| r.lost_counter()).collect();
        let files = readers
            .into_iter()
            .zip(wavs)
            .map(|(reader, (out, path))| TrackFile { reader, out, path })
            .collect();
        let progress = Arc::new(WriterProgress::default());
        let writer = match writer::spawn(files, Arc::clone(&progress), setup.writer_stall) {
            Ok(w) => w,
            Err(e) => {
                // Nothing will drain the rings: end the take again.
                let _ = recorder.stop();
                return Err(io_err(&folder)(e));
            }
        };
        Ok(Take {
            folder,
            manifest,
            counters,
            lost,
            progress,
            writer: Some(writer),
            buffer_seconds: setup.buffer_seconds,
        })
    }

    /// The take's folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The manifest as it stands.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Frames the engine has recorded so far.
    pub fn frames(&self) -> u64 {
        self.counters.frames.load(Ordering::Relaxed)
    }

    /// Frames the writer has put in every file so far.
    pub fn written_frames(&self) -> u64 {
        self.progress.frames.load(Ordering::Relaxed)
    }

    /// Frames each track has lost so far, in track order.
    pub fn lost_frames(&self) -> Vec<u64> {
        self.lost
            .iter()
            .map(|l| l.load(Ordering::Relaxed))
            .collect()
    }

    /// True while paused.
    pub fn paused(&self) -> bool {
        self.counters.paused.load(Ordering::Relaxed)
    }

    /// The writer stopped on its own (a write failed): the take should be stopped.
    pub fn writer_failed(&self) -> bool {
        self.writer.as_ref().is_some_and(|w| w.is_finished())
    }

    /// Sets a marker at the current frame; the manifest is rewritten at once (a marker
    /// survives a crash). Returns the marker's frame.
    pub fn mark(&mut self, label: &str) -> Result<u64, TakeError> {
        let frame = self.frames();
        self.manifest.markers.push(Marker {
            frame,
            label: label.into(),
        });
        self.manifest
            .save(&self.folder)
            .map_err(io_err(&self.folder))?;
        Ok(frame)
    }

    /// Ends the take at the engine's next callback, waits for the writer to drain the
    /// rings and finish every file, and writes the final manifest. Blocks for about a
    /// callback plus the time the writer needs for what is still in the rings.
    pub fn stop(mut self, recorder: &mut RecorderControl) -> Result<TakeSummary, TakeError> {
        let results = end_writer(
            recorder,
            self.writer.take(),
            self.buffer_seconds,
            &self.folder,
        )?;
        // Whatever happened, the manifest says what the files hold.
        let outcome = results.map(|results| {
            for (t, r) in self.manifest.tracks.iter_mut().zip(&results) {
                t.frames = r.frames;
                t.dropped_frames = r.dropped_frames;
            }
        });
        self.manifest.state = TakeState::Complete;
        if outcome.is_err() {
            // The files were not finished: the next start repairs them.
            self.manifest.state = TakeState::Recording;
        }
        let saved = self
            .manifest
            .save(&self.folder)
            .map_err(io_err(&self.folder));
        // The writer's failure (a full disk) is the cause; the manifest failing after it,
        // on the same disk, is its consequence (it still says "recording", so the next
        // start repairs the take).
        outcome?;
        saved?;
        Ok(TakeSummary {
            folder: self.folder,
            manifest: self.manifest,
        })
    }
}

/// Ends the engine's side of a recording at its next callback and waits for the writer
/// to drain the rings and finish every file. The outer error is the engine's (it did
/// not take the stop in time), the inner one the writer's (the files were not
/// finished). Shared by takes and the buses' file sinks.
pub(super) fn end_writer(
    recorder: &mut RecorderControl,
    writer: Option<JoinHandle<Result<Vec<TrackResult>, WriteError>>>,
    buffer_seconds: f64,
    what: &Path,
) -> Result<Result<Vec<TrackResult>, WriteError>, TakeError> {
    match recorder.stop() {
        // The engine that ran the recording is gone (a restart): its rings went with
        // it, so the writer is finishing already.
        Ok(()) | Err(RecorderError::Idle) => {}
        Err(e) => return Err(e.into()),
    }
    let limit = Duration::from_secs_f64(10.0 + 2.0 * buffer_seconds);
    let begun = Instant::now();
    // The engine hands the taps back; freeing them here is what tells the writer the
    // recording has ended.
    while recorder.collect() || writer.as_ref().is_some_and(|w| !w.is_finished()) {
        if begun.elapsed() > limit {
            return Err(TakeError::Timeout(limit));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(match writer.map(JoinHandle::join) {
        Some(Ok(r)) => r,
        Some(Err(_)) => Err(WriteError {
            path: what.to_path_buf(),
            source: io::Error::other("the writer thread panicked"),
        }),
        None => Ok(Vec::new()),
    })
}
