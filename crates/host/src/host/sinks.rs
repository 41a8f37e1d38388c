//! The buses' `sink = { file = … }` while `run` runs: recorded from the start of the
//! run to its end, a new file per run (never over an earlier one), through the
//! engine's second recorder. A structural change that moves, adds or removes a file
//! sink, or an engine rebuilt for a new rate, ends the files and starts new ones.

use std::path::{Path, PathBuf};

use troubadour_engine::recorder::{TapPoint, TrackSpec};
use troubadour_engine::session::{DEFAULT_BUFFER_SECONDS, RecordFormat, Session, Sink};
use troubadour_io::recorder::{SinkFile, SinkRecording, SinkSetup, TakeSetup, repair_sinks};
use troubadour_io::wav::SampleFormat;

use super::Host;
use crate::event::HostEvent;

/// The buses' file recording, if any.
#[derive(Debug, Default)]
pub(crate) struct SinkFiles {
    running: Option<Running>,
    /// Files that could not be created or written, not tried again until the session
    /// asks for other ones.
    refused: Option<Vec<SinkFile>>,
}

#[derive(Debug)]
struct Running {
    recording: SinkRecording,
    /// What it records, to notice a session change that asks for other files.
    files: Vec<SinkFile>,
    /// The engine's frame count when it started.
    engine_frames_at_start: u64,
}

/// The session's file sinks: every bus with `sink = { file = … }`, its path resolved
/// against the session file's folder.
fn file_sinks(session: &Session, session_path: &Path) -> Vec<SinkFile> {
    let base = session_path.parent().unwrap_or(Path::new("."));
    session
        .buses
        .iter()
        .enumerate()
        .filter_map(|(i, b)| match &b.sink {
            Some(Sink::File(p)) => Some(SinkFile {
                bus: b.name.clone(),
                path: base.join(p),
                spec: TrackSpec {
                    tap: TapPoint::Bus(i as u32),
                    channels: b.channels,
                },
            }),
            _ => None,
        })
        .collect()
}

impl Host {
    /// Repairs what a killed run left half-written in the session's file sinks. Called
    /// before a run records them.
    pub(crate) fn repair_interrupted_sinks(&mut self) {
        let paths: Vec<PathBuf> = file_sinks(self.controller.session(), self.controller.path())
            .into_iter()
            .map(|f| f.path)
            .collect();
        let (repaired, failed) = repair_sinks(&paths);
        if repaired.is_empty() && failed.is_empty() {
            return;
        }
        self.listeners.send(HostEvent::SinksRepaired {
            files: repaired.into_iter().map(|r| r.path).collect(),
            failed,
        });
    }

    /// Starts recording the session's file sinks (if it has any), every bus from the
    /// same frame, in the `[recorder]`'s format (32-bit float without one). A file
    /// that cannot be created is told as a warning; the mix plays on.
    pub(crate) fn start_sinks(&mut self) {
        let files = file_sinks(self.controller.session(), self.controller.path());
        if files.is_empty() {
            return;
        }
        self.sinks.refused = None;
        let r = self.controller.session().recorder.clone();
        let setup = SinkSetup {
            files: files.clone(),
            sample_rate: self.controller.session().sample_rate,
            // A `.flac` path is FLAC, any other WAV, at the `[recorder]`'s width.
            format: match r.as_ref().map(|r| r.format) {
                Some(RecordFormat::Wav24 | RecordFormat::Flac24) => SampleFormat::S24,
                Some(RecordFormat::Wav16 | RecordFormat::Flac16) => SampleFormat::S16,
                Some(RecordFormat::WavF32) | None => SampleFormat::F32,
            },
            flac_bits: match r.as_ref().map(|r| r.format) {
                Some(RecordFormat::Wav16 | RecordFormat::Flac16) => 16,
                _ => 24,
            },
            buffer_seconds: r.map_or(DEFAULT_BUFFER_SECONDS, |r| r.buffer_seconds),
            rf64_threshold: std::env::var("TROUBADOUR_TEST_RF64_BYTES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(TakeSetup::RF64_AT),
        };
        let engine_frames_at_start = self.controller.stats().frames;
        match SinkRecording::start(self.controller.sink_recorder(), &setup) {
            Ok(recording) => {
                for ((bus, file), f) in recording.files().iter().zip(&files) {
                    self.listeners.send(HostEvent::SinkRecording {
                        bus: bus.clone(),
                        file: file.clone(),
                        asked: f.path.clone(),
                    });
                }
                self.sinks.running = Some(Running {
                    recording,
                    files,
                    engine_frames_at_start,
                });
            }
            Err(e) => {
                self.sinks.refused = Some(files);
                self.listeners.send(HostEvent::Note(format!(
                    "warning: the buses' file sinks are not recorded: {e}"
                )));
            }
        }
    }

    /// Ends the buses' files, telling each with its length, or `why` it ended on its
    /// own.
    fn stop_sinks(&mut self, why: Option<String>) {
        let Some(run) = self.sinks.running.take() else {
            return;
        };
        let engine_frames = self
            .controller
            .stats()
            .frames
            .saturating_sub(run.engine_frames_at_start);
        let names: Vec<(String, PathBuf)> = run.recording.files().to_vec();
        let lost = run.recording.lost_frames();
        let recorded = run.recording.frames();
        let (results, why) = match run.recording.stop(self.controller.sink_recorder()) {
            Ok(r) => (Some(r), why),
            Err(e) => (
                None,
                Some(why.map_or(e.to_string(), |w| format!("{w}; {e}"))),
            ),
        };
        for (i, (bus, file)) in names.into_iter().enumerate() {
            self.listeners.send(HostEvent::SinkFinished {
                bus,
                file,
                frames: results
                    .as_ref()
                    .and_then(|r| r.get(i))
                    .map_or(recorded, |r| r.frames),
                engine_frames,
                lost_frames: lost.get(i).copied().unwrap_or(0),
                why: why.clone(),
            });
        }
    }

    /// Part of [`tick`](Host::tick): ends files whose writer failed (a full disk); after
    /// an engine rebuild or a session change that asks for other files, ends the old
    /// files and starts new ones. Files that failed are not tried again until the
    /// session asks for other ones (a full disk would fail again at once).
    pub(crate) fn tick_sinks(&mut self) {
        if self.backend.is_none() {
            // No engine runs; the recording (if any) goes on when one is back.
            return;
        }
        let wanted = file_sinks(self.controller.session(), self.controller.path());
        let Some(run) = &self.sinks.running else {
            if !wanted.is_empty() && self.sinks.refused.as_ref() != Some(&wanted) {
                self.start_sinks();
            }
            return;
        };
        if run.recording.writer_failed() {
            self.sinks.refused = Some(run.files.clone());
            self.stop_sinks(Some("writing failed".into()));
        } else if self.controller.sink_recorder().take().is_none() {
            self.stop_sinks(Some("the audio engine restarted".into()));
            self.start_sinks();
        } else if run.files != wanted {
            self.stop_sinks(None);
            self.start_sinks();
        }
    }

    /// Ends the buses' files before the process exits.
    pub(crate) fn stop_sinks_at_exit(&mut self) {
        self.stop_sinks(None);
    }
}
