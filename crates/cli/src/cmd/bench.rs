//! `troubadour bench [SESSION.toml] [--size SxB] [--rounds N] [--seconds S] [--json]`:
//! runs a session offline as fast as it goes and reports the real-time factor, the DSP
//! load, a per-stage breakdown and peak heap memory.
//!
//! Without a session it runs the standard workload (`--size`, default 8x4:
//! stereo strips with gate + 4-band EQ + compressor into stereo buses with 4-band EQ +
//! compressor + limiter), its device inputs fed with seeded white noise as a live host
//! would feed them.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use troubadour_engine::profile::{Stage, StageClock};
use troubadour_engine::workload::{self, Inputs};
use troubadour_engine::{EngineOptions, create};

use serde::Serialize;

use super::load;
use troubadour_rt::alloc_guard as alloc;

/// What to run and how long.
pub struct BenchOptions {
    /// `(strips, buses)` of the standard workload when no session is given.
    pub size: (usize, usize),
    /// Timed rounds; the median is the headline.
    pub rounds: usize,
    /// Seconds of audio per round.
    pub seconds: f64,
    /// Print JSON instead of a table.
    pub json: bool,
}

/// Parses `--size`: `8x4` → (8, 4).
pub fn parse_size(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--size {text:?}: expected STRIPSxBUSES, e.g. 8x4 or 64x16");
    let (s, b) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let (s, b) = (
        s.trim().parse::<usize>().map_err(|_| bad())?,
        b.trim().parse::<usize>().map_err(|_| bad())?,
    );
    if s == 0 || b == 0 || s > 1024 || b > 256 {
        return Err(format!(
            "--size {text:?}: strips must be 1..=1024 and buses 1..=256"
        ));
    }
    Ok((s, b))
}

struct Report {
    what: String,
    sample_rate: u32,
    block: usize,
    strips: usize,
    buses: usize,
    rounds: usize,
    seconds: f64,
    median: f64,
    best: f64,
    stages_us: [f64; 5],
    peak_heap: usize,
    allocations_while_processing: usize,
    load_ms: f64,
}

pub fn bench(path: Option<&Path>, options: &BenchOptions) -> Result<ExitCode, String> {
    alloc::reset_peak_bytes();
    let loading = Instant::now();
    let (loaded, what) = match path {
        Some(p) => (load(p)?, p.display().to_string()),
        None => {
            let (s, b) = options.size;
            (
                workload::standard(s, b, 256, Inputs::Devices),
                format!("standard workload {s}x{b}"),
            )
        }
    };
    let engine_options = EngineOptions {
        kernels: crate::kernels::from_env(),
        ..EngineOptions::default()
    };
    let (_controller, mut engine) =
        create(&loaded, &engine_options).map_err(|e| format!("cannot build the session: {e}"))?;
    let load_ms = loading.elapsed().as_secs_f64() * 1e3;

    let rate = loaded.session.sample_rate;
    let block = loaded.session.block_frames as usize;
    // Device inputs are fed seeded white noise (about -19 dBFS RMS): offline there is no
    // device, and silence would flatter the processors.
    let mut rng = troubadour_dsp::rng::Rng::new(7);
    let inputs: Vec<Vec<f32>> = (0..engine.input_channels())
        .map(|_| (0..block).map(|_| 0.2 * rng.next_bipolar()).collect())
        .collect();
    let mut outputs = vec![vec![0.0f32; block]; engine.output_channels()];
    let ins: Vec<&[f32]> = inputs.iter().map(|c| c.as_slice()).collect();
    let mut outs: Vec<&mut [f32]> = outputs.iter_mut().map(|c| c.as_mut_slice()).collect();

    let blocks = ((options.seconds * f64::from(rate)) / block as f64)
        .ceil()
        .max(1.0) as usize;
    let audio = (blocks * block) as f64 / f64::from(rate);
    // Warm-up: caches, branch predictors, the CPU's clock.
    for _ in 0..blocks.div_ceil(2) {
        engine.process(&ins, &mut outs, block);
    }
    let mut factors = Vec::with_capacity(options.rounds);
    let mut clock = StageClock::default();
    // Counted on this thread only: file players' reader threads decode (and allocate)
    // beside it, as they do beside the audio thread when live.
    let before = alloc::thread_violations();
    alloc::forbid_alloc(|| {
        for _ in 0..options.rounds {
            let t = Instant::now();
            for _ in 0..blocks {
                engine.process(&ins, &mut outs, block);
            }
            factors.push(audio / t.elapsed().as_secs_f64());
        }
        for _ in 0..blocks {
            engine.process_profiled(&ins, &mut outs, block, &mut clock);
        }
    });
    let allocations_while_processing = alloc::thread_violations() - before;
    factors.sort_by(f64::total_cmp);
    let report = Report {
        what,
        sample_rate: rate,
        block,
        strips: loaded.session.strips.len(),
        buses: loaded.session.buses.len(),
        rounds: options.rounds,
        seconds: audio,
        median: factors[factors.len() / 2],
        best: factors[factors.len() - 1],
        stages_us: Stage::ALL.map(|s| clock.total(s).as_secs_f64() * 1e6 / blocks as f64),
        peak_heap: alloc::peak_bytes(),
        allocations_while_processing,
        load_ms,
    };
    if options.json {
        println!("{}", report.json()?);
    } else {
        report.print();
    }
    Ok(ExitCode::SUCCESS)
}

impl Report {
    fn period_us(&self) -> f64 {
        self.block as f64 / f64::from(self.sample_rate) * 1e6
    }

    fn print(&self) {
        let period = self.period_us();
        println!(
            "session      {} ({} strips, {} buses, {} Hz, {}-frame blocks)",
            self.what, self.strips, self.buses, self.sample_rate, self.block
        );
        println!(
            "real time    {:.0}x median, {:.0}x best ({} rounds of {:.2} s of audio)",
            self.median, self.best, self.rounds, self.seconds
        );
        println!(
            "DSP load     {:.3} % of one core at {} Hz ({:.1} µs of each {:.0} µs period)",
            100.0 / self.median,
            self.sample_rate,
            period / self.median,
            period
        );
        let total: f64 = self.stages_us.iter().sum();
        println!(
            "stages       per block, from one more profiled pass (it reads the clock per stage)"
        );
        for (stage, us) in Stage::ALL.iter().zip(self.stages_us) {
            println!(
                "  {:<10} {:>9.2} µs  {:>5.1} %",
                stage.name(),
                us,
                100.0 * us / total.max(1e-12)
            );
        }
        println!("  resampling: none while processing (file sources are resampled at load)");
        println!(
            "peak heap    {:.2} MB (session load and graph build included)",
            self.peak_heap as f64 / 1e6
        );
        println!(
            "allocations  {} while processing",
            self.allocations_while_processing
        );
        println!(
            "load         {:.1} ms (parse, decode and resample files, build the graph)",
            self.load_ms
        );
    }

    fn json(&self) -> Result<String, String> {
        let round = |x: f64, decimals: i32| {
            let scale = 10f64.powi(decimals);
            (x * scale).round() / scale
        };
        let json = BenchJson {
            session: &self.what,
            sample_rate: self.sample_rate,
            block_frames: self.block,
            strips: self.strips,
            buses: self.buses,
            rounds: self.rounds,
            seconds_per_round: round(self.seconds, 4),
            real_time_factor_median: round(self.median, 2),
            real_time_factor_best: round(self.best, 2),
            dsp_load_percent: round(100.0 / self.median, 4),
            stage_us_per_block: StagesJson(
                Stage::ALL
                    .iter()
                    .zip(self.stages_us)
                    .map(|(s, us)| (s.name(), round(us, 3)))
                    .collect(),
            ),
            peak_heap_bytes: self.peak_heap,
            allocations_while_processing: self.allocations_while_processing,
            load_ms: round(self.load_ms, 2),
        };
        serde_json::to_string_pretty(&json)
            .map_err(|e| format!("cannot write the report as JSON: {e}"))
    }
}

/// `bench --json`.
#[derive(Serialize)]
struct BenchJson<'a> {
    session: &'a str,
    sample_rate: u32,
    block_frames: usize,
    strips: usize,
    buses: usize,
    rounds: usize,
    seconds_per_round: f64,
    real_time_factor_median: f64,
    real_time_factor_best: f64,
    dsp_load_percent: f64,
    stage_us_per_block: StagesJson,
    peak_heap_bytes: usize,
    allocations_while_processing: usize,
    load_ms: f64,
}

/// Microseconds per block of each stage, as an object in signal-flow order (a map
/// type would sort the keys).
struct StagesJson(Vec<(&'static str, f64)>);

impl Serialize for StagesJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, us) in &self.0 {
            map.serialize_entry(name, us)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_bad_ones_say_why() {
        assert_eq!(parse_size("8x4"), Ok((8, 4)));
        assert_eq!(parse_size("64X16"), Ok((64, 16)));
        assert!(
            parse_size("8")
                .unwrap_err()
                .contains("expected STRIPSxBUSES")
        );
        assert!(parse_size("0x4").unwrap_err().contains("1..=1024"));
    }
}
