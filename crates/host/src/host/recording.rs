//! The host's recorder: takes started, paused, marked and stopped from the control
//! surfaces, losses told as events, interrupted takes repaired at start.

use std::path::{Path, PathBuf};

use troubadour_engine::recorder::{TapPoint, TrackSpec};
use troubadour_engine::session::{RecordFormat, Session, TrackRef};
use troubadour_io::recorder::{Take, TakeError, TakeFormat, TakeSetup, TakeSummary, repair_takes};
use troubadour_io::wav::SampleFormat;

use super::Host;
use crate::event::HostEvent;

/// The running take, if any, and what was last told about it.
#[derive(Debug, Default)]
pub(crate) struct Recording {
    take: Option<Take>,
    /// Lost frames per track as last told.
    told_lost: Vec<u64>,
    /// Takes repaired since the start.
    pub(crate) repaired: u64,
}

/// Where the recorder stands, for the control API and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct RecorderStatus {
    /// `idle`, `recording` or `paused`.
    pub state: &'static str,
    /// The take's folder.
    pub take: Option<PathBuf>,
    /// Frames recorded in the take.
    pub frames: u64,
    /// The take's track names, in order.
    pub tracks: Vec<String>,
    /// Frames each track lost (the disk fell behind), in track order.
    pub lost_frames: Vec<u64>,
    /// Interrupted takes repaired since the start.
    pub repaired: u64,
}

/// Why a recorder request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The session has no `[recorder]` with tracks.
    #[error(
        "the session records nothing: add [recorder] with tracks = [\"strip/<name>\", \"bus/<name>\", …]"
    )]
    NotConfigured,
    /// A take runs already (start) or none runs (stop, pause, mark).
    #[error("{0}")]
    State(&'static str),
    /// A track names a strip or bus that is not there any more.
    #[error("recorder track {0:?} names no strip or bus of the running session")]
    Track(String),
    /// The take failed.
    #[error(transparent)]
    Take(#[from] TakeError),
}

fn take_format(f: RecordFormat) -> TakeFormat {
    match f {
        RecordFormat::WavF32 => TakeFormat::Wav(SampleFormat::F32),
        RecordFormat::Wav24 => TakeFormat::Wav(SampleFormat::S24),
        RecordFormat::Wav16 => TakeFormat::Wav(SampleFormat::S16),
        RecordFormat::Flac24 => TakeFormat::Flac { bits: 24 },
        RecordFormat::Flac16 => TakeFormat::Flac { bits: 16 },
    }
}

/// The session's tracks as taps of its graph.
fn tracks(session: &Session) -> Result<Vec<(String, TrackSpec)>, RecordError> {
    let r = session
        .recorder
        .as_ref()
        .ok_or(RecordError::NotConfigured)?;
    if r.tracks.is_empty() {
        return Err(RecordError::NotConfigured);
    }
    r.tracks
        .iter()
        .map(|t| {
            let missing = || RecordError::Track(t.clone());
            let spec = match TrackRef::parse(t).map_err(|_| missing())? {
                TrackRef::Strip { name, pre } => {
                    let i = session.strip_index(&name).ok_or_else(missing)?;
                    let tap = if pre {
                        TapPoint::StripPre(i as u32)
                    } else {
                        TapPoint::StripPost(i as u32)
                    };
                    TrackSpec {
                        tap,
                        channels: session.strips[i].channels,
                    }
                }
                TrackRef::Bus(name) => {
                    let i = session.bus_index(&name).ok_or_else(missing)?;
                    TrackSpec {
                        tap: TapPoint::Bus(i as u32),
                        channels: session.buses[i].channels,
                    }
                }
            };
            Ok((t.clone(), spec))
        })
        .collect()
}

/// The folder the session's takes go in.
fn takes_dir(session: &Session, session_path: &Path) -> Option<PathBuf> {
    let r = session.recorder.as_ref()?;
    let base = session_path.parent().unwrap_or(Path::new("."));
    Some(base.join(&r.dir))
}

impl Host {
    /// Repairs takes a crash interrupted in the session's takes folder, telling each
    /// as an event. Called at the start and before each take.
    pub(crate) fn repair_interrupted_takes(&mut self) {
        let session = self.controller.session();
        let Some(dir) = takes_dir(session, self.controller.path()) else {
            return;
        };
        let (repaired, failed) = repair_takes(&dir);
        if repaired.is_empty() && failed.is_empty() {
            return;
        }
        self.recording.repaired += repaired.len() as u64;
        self.listeners.send(HostEvent::TakesRepaired {
            takes: repaired.into_iter().map(|t| t.folder).collect(),
            failed,
        });
    }

    /// Starts a take of the session's `[recorder]` tracks (every track on the same
    /// frame, at the engine's next callback).
    pub fn record_start(&mut self) -> Result<RecorderStatus, RecordError> {
        if self.recording.take.is_some() {
            return Err(RecordError::State("a take is already recording"));
        }
        self.repair_interrupted_takes();
        let session = self.controller.session();
        let tracks = tracks(session)?;
        let r = session.recorder.clone().unwrap_or_default();
        let setup = TakeSetup {
            dir: takes_dir(session, self.controller.path()).unwrap_or_else(|| "takes".into()),
            session: self
                .controller
                .path()
                .file_stem()
                .map_or_else(|| "session".into(), |s| s.to_string_lossy().into_owned()),
            sample_rate: session.sample_rate,
            format: take_format(r.format),
            tracks,
            buffer_seconds: r.buffer_seconds,
            rf64_threshold: rf64_threshold(),
            writer_stall: None,
        };
        let take = Take::start(self.controller.recorder(), &setup)?;
        self.recording.told_lost = vec![0; setup.tracks.len()];
        self.listeners.send(HostEvent::RecorderChanged {
            state: "recording",
            take: take.folder().to_path_buf(),
        });
        self.recording.take = Some(take);
        Ok(self.recorder_status())
    }

    /// Stops the take: waits for the writer to finish every file (about one callback
    /// plus what is still in the rings), then writes the final manifest.
    pub fn record_stop(&mut self) -> Result<TakeSummary, RecordError> {
        let take = self
            .recording
            .take
            .take()
            .ok_or(RecordError::State("no take is recording"))?;
        let folder = take.folder().to_path_buf();
        let result = take.stop(self.controller.recorder());
        self.listeners.send(HostEvent::RecorderChanged {
            state: "idle",
            take: folder,
        });
        Ok(result?)
    }

    /// Pauses or resumes the take (every track on the same frame).
    pub fn record_pause(&mut self, paused: bool) -> Result<RecorderStatus, RecordError> {
        let Some(take) = &self.recording.take else {
            return Err(RecordError::State("no take is recording"));
        };
        let folder = take.folder().to_path_buf();
        self.controller
            .recorder()
            .set_paused(paused)
            .map_err(|_| RecordError::State("no take is recording"))?;
        self.listeners.send(HostEvent::RecorderChanged {
            state: if paused { "paused" } else { "recording" },
            take: folder,
        });
        Ok(self.recorder_status())
    }

    /// Sets a marker at the take's current frame (saved in the manifest at once).
    pub fn record_mark(&mut self, label: &str) -> Result<u64, RecordError> {
        let take = self
            .recording
            .take
            .as_mut()
            .ok_or(RecordError::State("no take is recording"))?;
        Ok(take.mark(label)?)
    }

    /// Where the recorder stands.
    pub fn recorder_status(&self) -> RecorderStatus {
        match &self.recording.take {
            None => RecorderStatus {
                state: "idle",
                take: None,
                frames: 0,
                tracks: Vec::new(),
                lost_frames: Vec::new(),
                repaired: self.recording.repaired,
            },
            Some(t) => RecorderStatus {
                state: if t.paused() { "paused" } else { "recording" },
                take: Some(t.folder().to_path_buf()),
                frames: t.frames(),
                tracks: t.manifest().tracks.iter().map(|t| t.name.clone()).collect(),
                lost_frames: t.lost_frames(),
                repaired: self.recording.repaired,
            },
        }
    }

    /// Part of [`tick`](Host::tick): tells new losses; ends a take whose writer failed
    /// (a full disk) or whose engine went away (a lost backend), keeping what was
    /// written.
    pub(crate) fn tick_recording(&mut self) {
        let Some(take) = &self.recording.take else {
            return;
        };
        let lost = take.lost_frames();
        for (i, (&now, told)) in lost
            .iter()
            .zip(self.recording.told_lost.iter_mut())
            .enumerate()
        {
            if now > *told {
                *told = now;
                self.listeners.send(HostEvent::RecorderFramesLost {
                    track: take.manifest().tracks[i].name.clone(),
                    frames: now,
                });
            }
        }
        let engine_gone = self.controller.recorder().take().is_none();
        if take.writer_failed() || engine_gone {
            let Some(take) = self.recording.take.take() else {
                return;
            };
            let folder = take.folder().to_path_buf();
            let why = match take.stop(self.controller.recorder()) {
                Ok(_) => "the audio engine restarted".to_string(),
                Err(e) => e.to_string(),
            };
            self.listeners
                .send(HostEvent::RecorderStopped { take: folder, why });
        }
    }

    /// Ends a running take before the process exits.
    pub(crate) fn stop_recording_at_exit(&mut self) {
        if self.recording.take.is_some() {
            let _ = self.record_stop();
        }
    }
}

/// Test hook: `TROUBADOUR_TEST_RF64_BYTES` forces RF64 past that many bytes (read at
/// each take's start), so tests see the RF64 path without writing 4 GiB.
fn rf64_threshold() -> u64 {
    std::env::var("TROUBADOUR_TEST_RF64_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TakeSetup::RF64_AT)
}
