//! The buses' `sink = { file = … }` recorded while `run` runs, through the same rings
//! and writer thread as takes, on the engine's second recorder (so a `[recorder]` take
//! can start and stop beside them).
//!
//! Every run writes new files: a path that exists already (an earlier run's recording,
//! or any other file) is never overwritten; the run writes `a1-2.wav`, `a1-3.wav`, …
//! beside it instead and says so. While a file is being written, a marker
//! `a1.wav.recording` lies beside it; a clean stop removes it, so a marker found at the
//! next start means the run was killed, and that file's header is repaired then.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use troubadour_engine::recorder::{RecorderControl, RecorderError, TakeCounters, TrackSpec};

use super::format::{TakeFormat, TrackWriter, repair};
use super::take::{TakeError, end_writer};
use super::writer::{self, TrackFile, TrackResult, WriteError, WriterProgress};
use crate::wav::SampleFormat;

/// What the marker beside a file being written is called: the file's name and this.
pub const MARKER_SUFFIX: &str = ".recording";

/// One bus recorded to a file.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkFile {
    /// The bus's name.
    pub bus: String,
    /// The path its sink names (resolved against the session's folder): the file is
    /// written there, or beside it with a suffix if that path is taken.
    pub path: PathBuf,
    /// The bus's tap.
    pub spec: TrackSpec,
}

/// What to record.
#[derive(Debug, Clone)]
pub struct SinkSetup {
    /// The buses and their files.
    pub files: Vec<SinkFile>,
    /// The engine's rate.
    pub sample_rate: u32,
    /// The files' format: FLAC for a path ending in `.flac` (at the bits of
    /// [`flac_bits`](Self::flac_bits)), else WAV of this.
    pub format: SampleFormat,
    /// Bits of FLAC files, 16 or 24.
    pub flac_bits: u8,
    /// Seconds each ring holds: how long the disk may stall before frames are lost.
    pub buffer_seconds: f64,
    /// Files grow into RF64 past this many bytes.
    pub rf64_threshold: u64,
}

/// The buses' files being written. Control side.
#[derive(Debug)]
pub struct SinkRecording {
    /// Each bus and the file it is written to (maybe suffixed), in setup order.
    files: Vec<(String, PathBuf)>,
    counters: Arc<TakeCounters>,
    lost: Vec<Arc<AtomicU64>>,
    progress: Arc<WriterProgress>,
    writer: Option<JoinHandle<Result<Vec<TrackResult>, WriteError>>>,
    buffer_seconds: f64,
}

fn marker(path: &Path) -> PathBuf {
    let mut m = path.as_os_str().to_os_string();
    m.push(MARKER_SUFFIX);
    PathBuf::from(m)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> TakeError + '_ {
    move |source| TakeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `a1.wav` → (`a1`, `.wav`); a name without an extension has an empty one.
fn stem_and_ext(path: &Path) -> (String, String) {
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(String::new, |e| format!(".{}", e.to_string_lossy()));
    (stem, ext)
}

/// Creates a new file for `path`: `path` itself if free, else the first free of
/// `stem-2.ext`, `stem-3.ext`, …, together with its marker. `create_new` makes sure no
/// file is ever truncated, even one that appears between the look and the open.
fn create_free(path: &Path) -> Result<(PathBuf, File), TakeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let (stem, ext) = stem_and_ext(path);
    let mut candidate = path.to_path_buf();
    for n in 2u32.. {
        if !marker(&candidate).exists() {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&candidate)
            {
                Ok(file) => {
                    let mut m = File::create(marker(&candidate)).map_err(io_err(&candidate))?;
                    // The marker says what it is to a user who finds it.
                    let _ = writeln!(
                        m,
                        "troubadour is recording {} (if it was killed, its next start repairs the file)",
                        candidate.display()
                    );
                    return Ok((candidate, file));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(&candidate)(e)),
            }
        }
        candidate = dir.join(format!("{stem}-{n}{ext}"));
    }
    unreachable!("u32 suffixes run out before free file names do")
}

/// A file this module may have written for `path`: its name or `stem-N.ext`.
fn is_sibling(name: &str, stem: &str, ext: &str, own: &str) -> bool {
    if name == own {
        return true;
    }
    name.strip_prefix(stem)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_suffix(ext))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A file a killed run left behind, repaired.
#[derive(Debug, Clone, PartialEq)]
pub struct RepairedSink {
    /// The file.
    pub path: PathBuf,
    /// Frames it holds after the repair.
    pub frames: u64,
}

/// Repairs the files that runs killed while recording left for these sink paths (the
/// files beside a marker), then removes their markers. Returns those repaired and, for
/// each that could not be, why (its marker stays).
pub fn repair_sinks(paths: &[PathBuf]) -> (Vec<RepairedSink>, Vec<String>) {
    let (mut repaired, mut failed) = (Vec::new(), Vec::new());
    for path in paths {
        let dir = path.parent().unwrap_or(Path::new("."));
        let (stem, ext) = stem_and_ext(path);
        let own = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let file = name.strip_suffix(MARKER_SUFFIX)?.to_string();
                is_sibling(&file, &stem, &ext, &own).then(|| dir.join(file))
            })
            .collect();
        found.sort();
        for file in found {
            if !file.exists() {
                // Killed between the marker and the file: nothing to repair.
                let _ = std::fs::remove_file(marker(&file));
                continue;
            }
            match repair(&file) {
                Ok(frames) => {
                    let _ = std::fs::remove_file(marker(&file));
                    repaired.push(RepairedSink { path: file, frames });
                }
                Err(e) => failed.push(format!("{}: {e}", file.display())),
            }
        }
    }
    (repaired, failed)
}

impl SinkRecording {
    /// Creates every bus's file (never over an existing one), starts the writer thread
    /// and tells the engine's sink recorder to start at its next callback, every bus
    /// on the same frame. Files already created are removed again if a later one fails.
    pub fn start(
        recorder: &mut RecorderControl,
        setup: &SinkSetup,
    ) -> Result<SinkRecording, TakeError> {
        if recorder.take().is_some() {
            return Err(RecorderError::Busy.into());
        }
        if setup.files.is_empty() {
            return Err(RecorderError::NoTracks.into());
        }
        let mut files = Vec::with_capacity(setup.files.len());
        let mut wavs = Vec::with_capacity(setup.files.len());
        let undo = |made: &[(String, PathBuf)]| {
            for (_, p) in made {
                let _ = std::fs::remove_file(p);
                let _ = std::fs::remove_file(marker(p));
            }
        };
        for f in &setup.files {
            let made = (|| {
                if let Some(dir) = f.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
                }
                let (path, file) = create_free(&f.path)?;
                let flac = path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("flac"));
                let format = if flac {
                    TakeFormat::Flac {
                        bits: setup.flac_bits,
                    }
                } else {
                    TakeFormat::Wav(setup.format)
                };
                let wav = TrackWriter::create(
                    file,
                    format,
                    f.spec.channels,
                    setup.sample_rate,
                    setup.rf64_threshold,
                    wavs.len() as u64 + 1,
                )
                .map_err(io_err(&path))?;
                Ok::<_, TakeError>((path, wav))
            })();
            match made {
                Ok((path, wav)) => {
                    files.push((f.bus.clone(), path.clone()));
                    wavs.push((wav, path));
                }
                Err(e) => {
                    undo(&files);
                    return Err(e);
                }
            }
        }
        let specs: Vec<TrackSpec> = setup.files.iter().map(|f| f.spec).collect();
        let ring_frames = (setup.buffer_seconds * f64::from(setup.sample_rate)).ceil() as usize;
        let (counters, readers) = match recorder.start(&specs, ring_frames) {
            Ok(r) => r,
            Err(e) => {
                undo(&files);
                return Err(e.into());
            }
        };
        let lost = readers.iter().map(|r| r.lost_counter()).collect();
        let tracks = readers
            .into_iter()
            .zip(wavs)
            .map(|(reader, (out, path))| TrackFile { reader, out, path })
            .collect();
        let progress = Arc::new(WriterProgress::default());
        let writer = match writer::spawn(tracks, Arc::clone(&progress), None) {
            Ok(w) => w,
            Err(e) => {
                let _ = recorder.stop();
                let first = files[0].1.clone();
                undo(&files);
                return Err(io_err(&first)(e));
            }
        };
        Ok(SinkRecording {
            files,
            counters,
            lost,
            progress,
            writer: Some(writer),
            buffer_seconds: setup.buffer_seconds,
        })
    }

    /// Each bus and the file it is written to, in setup order.
    pub fn files(&self) -> &[(String, PathBuf)] {
        &self.files
    }

    /// Frames the engine has recorded so far (the same for every bus).
    pub fn frames(&self) -> u64 {
        self.counters.frames.load(Ordering::Relaxed)
    }

    /// Frames every file holds so far.
    pub fn written_frames(&self) -> u64 {
        self.progress.frames.load(Ordering::Relaxed)
    }

    /// Frames each bus lost (the disk fell behind), in setup order.
    pub fn lost_frames(&self) -> Vec<u64> {
        self.lost
            .iter()
            .map(|l| l.load(Ordering::Relaxed))
            .collect()
    }

    /// The writer stopped on its own (a write failed): the recording should be stopped.
    pub fn writer_failed(&self) -> bool {
        self.writer.as_ref().is_some_and(|w| w.is_finished())
    }

    /// Ends the recording at the engine's next callback, waits for the writer to finish
    /// every file and removes the markers. A file the writer could not finish keeps
    /// its marker, so the next start repairs it.
    pub fn stop(mut self, recorder: &mut RecorderControl) -> Result<Vec<TrackResult>, TakeError> {
        let first = self.files[0].1.clone();
        let results = end_writer(recorder, self.writer.take(), self.buffer_seconds, &first)??;
        for (_, path) in &self.files {
            let _ = std::fs::remove_file(marker(path));
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siblings_are_the_name_and_numbered_suffixes_only() {
        let s = |n| is_sibling(n, "a1", ".wav", "a1.wav");
        assert!(s("a1.wav"));
        assert!(s("a1-2.wav"));
        assert!(s("a1-17.wav"));
        assert!(!s("a1-.wav"));
        assert!(!s("a1-x.wav"));
        assert!(!s("a1-2.flac"));
        assert!(!s("a10.wav"));
        assert!(!s("b1-2.wav"));
    }

    #[test]
    fn a_taken_path_gets_the_next_free_suffix_and_nothing_is_truncated() {
        let dir = std::env::temp_dir().join(format!("troubadour-sinks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mix.wav");
        std::fs::write(&path, b"an earlier recording").unwrap();
        std::fs::write(dir.join("mix-2.wav"), b"another").unwrap();
        let (got, _) = create_free(&path).unwrap();
        assert_eq!(got, dir.join("mix-3.wav"));
        assert!(marker(&got).exists());
        assert_eq!(std::fs::read(&path).unwrap(), b"an earlier recording");
        assert_eq!(std::fs::read(dir.join("mix-2.wav")).unwrap(), b"another");
        // A path free but for a marker (a file lost mid-creation) is skipped too.
        let other = dir.join("b.wav");
        std::fs::write(marker(&other), b"").unwrap();
        assert_eq!(create_free(&other).unwrap().0, dir.join("b-2.wav"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
