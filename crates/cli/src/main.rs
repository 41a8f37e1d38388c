//! `troubadour`: the command line of the Troubadour mixer.

mod args;
mod cmd;
mod interrupt;
mod kernels;
mod logging;
mod progress;

/// The system allocator, counting: `troubadour bench` reports peak heap and shows that
/// processing allocates nothing. A few relaxed atomics per allocation; the audio path
/// makes none.
#[global_allocator]
static ALLOCATOR: troubadour_rt::alloc_guard::GuardedAllocator =
    troubadour_rt::alloc_guard::GuardedAllocator;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use troubadour_dsp::resample::Quality;

/// A real-time virtual audio mixer: input strips, a send matrix, output buses.
#[derive(Debug, Parser)]
#[command(name = "troubadour", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the mixer live (built-in 2-strip, 2-bus session when none is given).
    Run {
        /// Session file (TOML).
        session: Option<PathBuf>,
        /// Audio backend: jack, pipewire (a native PipeWire node; virtual devices),
        /// cpal (audio devices through PulseAudio/PipeWire or ALSA), or null (a
        /// deadline-paced clock for machines without audio hardware); `auto` picks
        /// JACK when a server answers, else PipeWire when its server answers, else cpal
        /// when its default host has an output device, else null.
        #[arg(long, default_value = "auto", value_parser = ["auto", "jack", "pipewire", "cpal", "null"])]
        backend: String,
        /// Period in frames, 16..=8192 (default: the session's block_frames; a JACK
        /// server sets its own).
        #[arg(long, allow_negative_numbers = true, value_parser = args::latency_frames)]
        latency_frames: Option<usize>,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long, allow_negative_numbers = true, value_parser = args::seconds)]
        seconds: Option<f64>,
        /// Pin the audio thread to this CPU (the null backend's own thread; JACK's and
        /// cpal's threads are set up by the server and by cpal).
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..troubadour_io::thread::MAX_CPUS as i64))]
        cpu: Option<u32>,
        /// Do not ask for real-time scheduling for the audio thread.
        #[arg(long)]
        no_realtime: bool,
        /// Lock the process's memory (mlockall) even where the limit for locked memory
        /// looks too small (by default it is locked where the limit allows it).
        #[arg(long, conflicts_with = "no_mlock")]
        mlock: bool,
        /// Do not lock the process's memory.
        #[arg(long)]
        no_mlock: bool,
        /// Where the control API (HTTP and WebSocket) listens [default: 127.0.0.1:7474,
        /// skipped with a warning if taken]. On an address other than loopback it
        /// requires a token (generated on first use, printed at start).
        #[arg(long, conflicts_with = "no_api")]
        listen: Option<std::net::SocketAddr>,
        /// Do not serve the control API.
        #[arg(long)]
        no_api: bool,
        /// Where OSC listens (UDP) [default: 127.0.0.1:9000, skipped with a warning if
        /// taken]. OSC has no token: an address other than loopback lets anyone who
        /// reaches it change the mix.
        #[arg(long, conflicts_with = "no_osc")]
        osc: Option<std::net::SocketAddr>,
        /// Do not serve OSC.
        #[arg(long)]
        no_osc: bool,
        /// A MIDI output port (name or JACK regular expression) to connect to our MIDI
        /// input, now and whenever it appears; may be repeated.
        #[arg(long, value_name = "PORT", conflicts_with = "no_midi")]
        midi_in: Vec<String>,
        /// A MIDI input port to send feedback to; may be repeated.
        #[arg(long, value_name = "PORT", conflicts_with = "no_midi")]
        midi_out: Vec<String>,
        /// No MIDI (by default a JACK MIDI client runs whenever a JACK server answers).
        #[arg(long)]
        no_midi: bool,
        /// Do not write changes made through the API back to the session file.
        #[arg(long)]
        no_autosave: bool,
        #[command(flatten)]
        log: logging::LogArgs,
    },
    /// Control a running instance: get and set parameters, watch changes, meters and
    /// status, scenes, undo (exit 0 done, 1 refused, 2 no instance answers).
    Ctl(cmd::ctl::CtlArgs),
    /// Render a session offline into one WAV file per bus.
    Render {
        /// Session file (TOML).
        session: PathBuf,
        /// Output directory.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Length in seconds (default: the longest non-looping file source, else 10).
        #[arg(long, allow_negative_numbers = true, value_parser = args::seconds)]
        seconds: Option<f64>,
        /// Sample format of the files.
        #[arg(long, default_value = "f32", value_parser = ["f32", "s24", "s16"])]
        format: String,
    },
    /// Convert a WAV file to another sample rate (streaming, delay-compensated).
    Resample {
        /// Input WAV file.
        input: PathBuf,
        /// Output WAV file (written complete or not at all).
        output: PathBuf,
        /// Output sample rate in Hz.
        #[arg(long)]
        rate: u32,
        /// fast: linear interpolation; high: windowed sinc, ~140 dB; best: longer kernel,
        /// computed in f64.
        #[arg(long, default_value = "high", value_parser = ["fast", "high", "best"])]
        quality: String,
        /// Output sample format (default: the input's).
        #[arg(long, value_parser = ["s16", "s24", "s32", "f32"])]
        format: Option<String>,
    },
    /// Run a session offline as fast as possible: real-time factor, DSP load, time per
    /// stage and peak heap (default: the standard workload, 8 stereo strips into 4 buses with full processing).
    Bench {
        /// Session file (TOML); without one, the standard workload.
        session: Option<PathBuf>,
        /// Size of the standard workload: STRIPSxBUSES (stereo each).
        #[arg(long, default_value = "8x4", value_parser = cmd::bench::parse_size)]
        size: (usize, usize),
        /// Timed rounds (the median is reported).
        #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(1..=1000))]
        rounds: u32,
        /// Seconds of audio per round.
        #[arg(long, default_value_t = 1.0, allow_negative_numbers = true, value_parser = args::seconds)]
        seconds: f64,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List every audio host and device (channels, rates, defaults) and the JACK
    /// server's ports when one answers.
    Devices {
        /// Print one JSON object instead of a list.
        #[arg(long)]
        json: bool,
        /// Also list the virtual devices this session would make.
        #[arg(long)]
        session: Option<PathBuf>,
    },
    /// Validate a session file and explain every problem (exit 0 if valid, 1 if not).
    Check {
        /// Session file (TOML).
        session: PathBuf,
    },
}

/// Counts system calls made inside audio callbacks (reported in `/metrics` and the log),
/// unless `TROUBADOUR_SYSCALL_GUARD=0`.
fn guard_callbacks() {
    if std::env::var_os("TROUBADOUR_SYSCALL_GUARD").is_some_and(|v| v == "0") {
        return;
    }
    if let Err(e) = troubadour_rt::syscall_guard::install() {
        tracing::info!(target: "troubadour", "system calls inside audio callbacks are not counted here: {e}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Like any Unix tool: when the reader of our output goes away (`| head`), end
    // quietly instead of panicking on the next print. Not for `run`: libjack writes to
    // the server's socket, and a server that dies must not take us with it (run's own
    // prints ignore a closed stdout instead).
    if !matches!(cli.command, Command::Run { .. }) {
        // SAFETY: restoring a signal's default disposition before any other thread
        // exists races with nothing.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let result = match cli.command {
        Command::Run {
            session,
            backend,
            latency_frames,
            seconds,
            cpu,
            no_realtime,
            mlock,
            no_mlock,
            listen,
            no_api,
            osc,
            no_osc,
            midi_in,
            midi_out,
            no_midi,
            no_autosave,
            log,
        } => {
            if let Err(e) = logging::init(&log) {
                eprintln!("troubadour: {e}");
                return ExitCode::FAILURE;
            }
            guard_callbacks();
            use troubadour_io::thread::{DEFAULT_PRIORITY, MemoryLock, ThreadSetup};
            let config = troubadour_host::HostConfig {
                backend: backend.parse().expect("clap checked the backend"),
                period_frames: latency_frames,
                thread: ThreadSetup {
                    realtime_priority: (!no_realtime).then_some(DEFAULT_PRIORITY),
                    cpu: cpu.map(|c| c as usize),
                },
                memory_lock: match (mlock, no_mlock) {
                    (true, _) => MemoryLock::On,
                    (_, true) => MemoryLock::Off,
                    _ => MemoryLock::Auto,
                },
                engine: troubadour_engine::EngineOptions {
                    kernels: kernels::from_env(),
                    ..Default::default()
                },
                ..Default::default()
            };
            let serve = cmd::run::Serve {
                listen: (!no_api).then(|| listen.unwrap_or(cmd::run::DEFAULT_LISTEN)),
                listen_given: listen.is_some(),
                osc: (!no_osc).then(|| osc.unwrap_or(cmd::run::DEFAULT_OSC)),
                osc_given: osc.is_some(),
                midi: (!no_midi).then_some(troubadour_control::midi::MidiOptions {
                    inputs: midi_in,
                    outputs: midi_out,
                    hub: None,
                }),
                autosave: !no_autosave,
            };
            cmd::run::run(session.as_deref(), config, seconds, serve)
        }
        Command::Render {
            session,
            out,
            seconds,
            format,
        } => cmd::render::render(
            &session,
            &out,
            seconds,
            format.parse().expect("clap checked the format"),
        ),
        Command::Check { session } => cmd::check::check(&session),
        Command::Ctl(args) => return cmd::ctl::ctl(&args),
        Command::Devices { json, session } => cmd::devices::devices(json, session.as_deref()),
        Command::Bench {
            session,
            size,
            rounds,
            seconds,
            json,
        } => cmd::bench::bench(
            session.as_deref(),
            &cmd::bench::BenchOptions {
                size,
                rounds: rounds as usize,
                seconds,
                json,
            },
        ),
        Command::Resample {
            input,
            output,
            rate,
            quality,
            format,
        } => cmd::resample::resample(
            &input,
            &output,
            rate,
            Quality::from_name(&quality).expect("clap checked the quality"),
            format.map(|f| f.parse().expect("clap checked the format")),
        ),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("troubadour: {message}");
            ExitCode::FAILURE
        }
    }
}
