//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use troubadour_engine::{Controller, Engine, EngineOptions, create, session};

/// A folder of a test's own under the system's temporary folder, removed when dropped.
pub struct Dir(pub PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `troubadour-SUITE-TAG-PID`, made afresh.
pub fn temp_dir(suite: &str, tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("troubadour-{suite}-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

/// Parses `text` as a session (files relative to the current directory) and builds it.
pub fn mixer(text: &str) -> (Controller, Engine) {
    let loaded = session::parse(text, "test.toml".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    create(&loaded, &EngineOptions::default()).unwrap()
}

/// Runs `frames` frames of `inputs` (planar) through the engine in calls of `call`
/// frames; returns the planar outputs.
pub fn run(engine: &mut Engine, inputs: &[Vec<f32>], frames: usize, call: usize) -> Vec<Vec<f32>> {
    let mut outputs = vec![vec![0.0f32; frames]; engine.output_channels()];
    let mut done = 0;
    while done < frames {
        let n = call.min(frames - done);
        let ins: Vec<&[f32]> = inputs.iter().map(|c| &c[done..done + n]).collect();
        let mut outs: Vec<&mut [f32]> =
            outputs.iter_mut().map(|c| &mut c[done..done + n]).collect();
        engine.process(&ins, &mut outs, n);
        done += n;
    }
    outputs
}

/// Constant input of `value` on `channels` channels.
pub fn dc(channels: usize, frames: usize, value: f32) -> Vec<Vec<f32>> {
    vec![vec![value; frames]; channels]
}

/// Deterministic noise in [-1, 1).
pub fn noise(channels: usize, frames: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = troubadour_dsp::rng::Rng::new(seed);
    (0..channels)
        .map(|_| (0..frames).map(|_| rng.next_bipolar()).collect())
        .collect()
}

pub fn db(x: f32) -> f32 {
    20.0 * x.abs().log10()
}
