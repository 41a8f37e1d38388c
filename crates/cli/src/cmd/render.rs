//! `troubadour render SESSION.toml --out DIR [--seconds S] [--format f32|s24|s16]`

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use troubadour_io::render::{RenderError, RenderOptions, render as render_session};
use troubadour_io::wav::SampleFormat;

use super::{db, load, speed};
use crate::interrupt;
use crate::progress::Progress;

pub fn render(
    path: &Path,
    out: &Path,
    seconds: Option<f64>,
    format: SampleFormat,
) -> Result<ExitCode, String> {
    let loaded = load(path)?;
    interrupt::install()?;
    let progress = Progress::new(loaded.session.sample_rate);
    let options = RenderOptions {
        out_dir: out.to_path_buf(),
        seconds,
        format,
        kernels: crate::kernels::from_env(),
    };
    let started = Instant::now();
    let summary = match render_session(&loaded, &options, |done, total| {
        progress.update(done, total);
        interrupt::raised().is_none()
    }) {
        Ok(summary) => summary,
        Err(RenderError::Stopped) => {
            return Ok(interrupt::check()
                .err()
                .map_or(ExitCode::FAILURE, |i| i.exit()));
        }
        Err(e) => return Err(e.to_string()),
    };
    let elapsed = started.elapsed().as_secs_f64();
    for note in &summary.notes {
        eprintln!("note: {note}");
    }
    let audio = summary.frames as f64 / f64::from(summary.sample_rate);
    let name_w = summary
        .buses
        .iter()
        .map(|b| b.name.len())
        .max()
        .unwrap_or(3)
        .max(3);
    let file_w = summary
        .buses
        .iter()
        .map(|b| b.file.display().to_string().len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<name_w$}  {:<file_w$}  {:>9}  {:>8}  {:>7}",
        "bus", "file", "peak dBFS", "RMS dBFS", "clipped"
    );
    for b in &summary.buses {
        println!(
            "{:<name_w$}  {:<file_w$}  {:>9}  {:>8}  {:>7}",
            b.name,
            b.file.display(),
            db(b.peak_dbfs),
            db(b.rms_dbfs),
            b.clipped
        );
    }
    println!(
        "rendered {audio:.2} s at {} Hz in {elapsed:.2} s ({} real time)",
        summary.sample_rate,
        speed(audio, elapsed)
    );
    Ok(ExitCode::SUCCESS)
}
