//! Offline rendering: the file backend.

use std::path::{Path, PathBuf};

use troubadour_dsp::resample::output_length;
use troubadour_engine::session::{Bus, LoadedSession, Source};
use troubadour_engine::{BuildError, EngineOptions, create};

use crate::wav::{SampleFormat, WavSink, WavSpec};

/// How long a render runs when neither `--seconds` nor a file source says.
pub const DEFAULT_SECONDS: f64 = 10.0;

/// What to render and where.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Directory for the bus files (created if missing).
    pub out_dir: PathBuf,
    /// Length; by default the longest non-looping file source, else
    /// [`DEFAULT_SECONDS`].
    pub seconds: Option<f64>,
    /// Sample format of the files.
    pub format: SampleFormat,
    /// Which instruction sets the engine may use.
    pub kernels: troubadour_dsp::simd::KernelChoice,
}

/// Why a render failed. Nothing is left under a bus file's name when it does.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The session could not be compiled.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The output directory could not be made.
    #[error("cannot create the output directory {}: {source}", path.display())]
    OutDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing a bus file failed.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The progress callback asked to stop (e.g. on Ctrl-C).
    #[error("the render was stopped before its end")]
    Stopped,
    /// The length is not a positive, finite number of seconds.
    #[error("--seconds must be a positive number of seconds, not {0}")]
    Length(f64),
}

/// One bus's result.
#[derive(Debug, Clone, PartialEq)]
pub struct BusSummary {
    /// Bus name.
    pub name: String,
    /// The file written.
    pub file: PathBuf,
    /// Frames written.
    pub frames: u64,
    /// Highest sample magnitude, dBFS.
    pub peak_dbfs: f64,
    /// RMS over the whole render and all channels, dBFS.
    pub rms_dbfs: f64,
    /// Samples beyond full scale: clipped in integer formats (the peak and RMS are of
    /// what the file holds, after clipping), kept in f32.
    pub clipped: u64,
}

/// A finished render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSummary {
    /// Per bus, in bus order.
    pub buses: Vec<BusSummary>,
    /// Frames rendered.
    pub frames: u64,
    /// The session's sample rate.
    pub sample_rate: u32,
    /// Things the user should know (e.g. device sources are silent offline).
    pub notes: Vec<String>,
}

/// The render length in frames.
fn length_frames(loaded: &LoadedSession, seconds: Option<f64>) -> Result<u64, RenderError> {
    let rate = f64::from(loaded.session.sample_rate);
    if let Some(s) = seconds {
        if !(s.is_finite() && s > 0.0) {
            return Err(RenderError::Length(s));
        }
        return Ok((s * rate).round() as u64);
    }
    // A file at another rate plays resampled to the session's: its length in session
    // frames is what the converter makes of it, round(frames × session rate / file rate).
    let longest = loaded
        .session
        .strips
        .iter()
        .filter_map(|s| match &s.source {
            Source::File {
                path,
                looped: false,
            } => troubadour_engine::audio_file::AudioFileInfo::read(&loaded.base_dir.join(path))
                .ok()
                .map(|i| output_length(i.frames, i.sample_rate, loaded.session.sample_rate)),
            _ => None,
        })
        .max();
    Ok(longest.unwrap_or((DEFAULT_SECONDS * rate) as u64))
}

/// Renders `loaded` offline into one WAV per bus in `options.out_dir`. `progress` is
/// called now and then with (frames done, frames total) and returns whether to go on:
/// `false` stops the render with [`RenderError::Stopped`], its files removed. The output depends only on
/// the session and its files: the same input gives byte-identical files.
pub fn render(
    loaded: &LoadedSession,
    options: &RenderOptions,
    mut progress: impl FnMut(u64, u64) -> bool,
) -> Result<RenderSummary, RenderError> {
    let total = length_frames(loaded, options.seconds)?;
    let session = &loaded.session;
    let block = session.block_frames as usize;
    let engine_options = EngineOptions {
        kernels: options.kernels,
        // No deadline: the players are waited for, and need no seconds in hand.
        player_ring_seconds: troubadour_engine::RENDER_RING_SECONDS,
        ..EngineOptions::default()
    };
    let (_controller, mut engine) =
        create(loaded, &engine_options).map_err(|e| e.located(loaded))?;
    if options.out_dir.exists() && !options.out_dir.is_dir() {
        // create_dir_all would say only "File exists".
        return Err(RenderError::OutDir {
            path: options.out_dir.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "it exists and is not a directory",
            ),
        });
    }
    std::fs::create_dir_all(&options.out_dir).map_err(|source| RenderError::OutDir {
        path: options.out_dir.clone(),
        source,
    })?;

    let mut notes = Vec::new();
    for s in &session.strips {
        if let Source::Device(d) = &s.source {
            notes.push(format!(
                "strip {:?}: device source {d:?} is silent in an offline render",
                s.name
            ));
        }
        if let Source::Virtual(d) = &s.source {
            notes.push(format!(
                "strip {:?}: virtual device {:?} is silent in an offline render",
                s.name, d.name
            ));
        }
        if let Source::App(pattern) = &s.source {
            notes.push(format!(
                "strip {:?}: the streams of apps matching {pattern:?} are silent in an offline render",
                s.name
            ));
        }
    }

    let mut sinks = Vec::with_capacity(session.buses.len());
    for bus in &session.buses {
        let path = bus_file(&options.out_dir, bus);
        let spec = WavSpec {
            channels: bus.channels,
            sample_rate: session.sample_rate,
            format: options.format,
        };
        let sink = WavSink::create(&path, spec).map_err(|source| RenderError::Write {
            path: path.clone(),
            source,
        })?;
        sinks.push((sink, path));
    }

    let inputs: Vec<Vec<f32>> = vec![vec![0.0; block]; engine.input_channels()];
    let mut outputs: Vec<Vec<f32>> = vec![vec![0.0; block]; engine.output_channels()];

    let mut done = 0u64;
    let mut last_report = 0u64;
    while done < total {
        let n = (total - done).min(block as u64) as usize;
        let ins: Vec<&[f32]> = inputs.iter().map(|c| &c[..n]).collect();
        let mut outs: Vec<&mut [f32]> = outputs.iter_mut().map(|c| &mut c[..n]).collect();
        // No deadline offline: wait for the file readers rather than underrun.
        engine.wait_for_file_sources(n);
        engine.process(&ins, &mut outs, n);
        let mut first = 0;
        for (bus, (sink, path)) in session.buses.iter().zip(sinks.iter_mut()) {
            let channels: Vec<&[f32]> = outputs[first..first + usize::from(bus.channels)]
                .iter()
                .map(|c| &c[..n])
                .collect();
            sink.write_planar(&channels, n)
                .map_err(|source| RenderError::Write {
                    path: path.clone(),
                    source,
                })?;
            first += usize::from(bus.channels);
        }
        done += n as u64;
        if done - last_report >= u64::from(session.sample_rate) / 10 || done == total {
            if !progress(done, total) {
                return Err(RenderError::Stopped);
            }
            last_report = done;
        }
    }

    for (i, e) in engine.file_source_errors() {
        notes.push(format!(
            "strip {:?}: its file stopped playing early: {e}",
            session.strips[i].name
        ));
    }

    let mut buses = Vec::with_capacity(session.buses.len());
    for (bus, (sink, path)) in session.buses.iter().zip(sinks) {
        let (file, levels) = sink.finish().map_err(|source| RenderError::Write {
            path: path.clone(),
            source,
        })?;
        buses.push(BusSummary {
            name: bus.name.clone(),
            file,
            frames: total,
            peak_dbfs: to_db(levels.peak),
            rms_dbfs: to_db(levels.rms()),
            clipped: levels.clipped,
        });
    }
    Ok(RenderSummary {
        buses,
        frames: total,
        sample_rate: session.sample_rate,
        notes,
    })
}

fn to_db(x: f64) -> f64 {
    if x > 0.0 {
        20.0 * x.log10()
    } else {
        f64::NEG_INFINITY
    }
}

/// Where a bus's file goes in `out_dir` ([`Bus::output_file_name`]).
pub fn bus_file(out_dir: &Path, bus: &Bus) -> PathBuf {
    out_dir.join(bus.output_file_name())
}
