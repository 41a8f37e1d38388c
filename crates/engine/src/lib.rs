//! Troubadour's mixer engine.
//!
//! - [`atomic_file`]: files written whole or not at all (sessions, WAVs).
//! - [`session`]: the session model (what the user saves), its TOML format, validation
//!   with located errors, and atomic saving.
//! - [`Graph`]: a session compiled for the audio thread.
//! - [`Engine`]: the audio side; [`Engine::process`] is real-time safe.
//! - [`recorder`]: the recorder's taps (audio thread) and track readers (writer thread).
//! - [`spectrum`]: copies of a strip's or bus's signal for the control side's analyser.
//! - [`Controller`]: the control side; validates changes and sends them to the engine
//!   through lock-free queues.
//!
//! Signal flow of one block: each strip renders its source, applies trim, gate, EQ and
//! compressor (whose detector may listen to another strip's pre-fader signal: strips
//! are processed in an order that puts such sources first), meters pre-fader, applies
//! fader × mute/solo, meters post-fader, and adds itself into each bus through its sends
//! (pre- or post-fader, with pan or balance). Each bus then applies EQ, compressor and
//! limiter, its fader and mute, replaces non-finite samples by silence, meters and
//! writes its output.

pub mod atomic_file;
pub mod audio_file;
mod command;
mod controller;
mod diff;
mod engine;
mod graph;
mod meter_tap;
pub mod meters;
mod player;
pub mod profile;
pub mod recorder;
pub mod session;
pub mod spectrum;
mod stats;
pub mod workload;

pub use command::{Command, Tagged, Target};
pub use controller::{Applied, ControlError, Controller, EngineOptions, create};
pub use engine::{Engine, MAX_COMMANDS_PER_CALLBACK};
pub use graph::{BuildError, Graph, RAMP_SECONDS};
pub use meter_tap::{BusLevels, Level, MeterSnapshot, MeterTap, StripLevels};
pub use player::{Player, PlayerState, RENDER_RING_SECONDS, RING_SECONDS};
pub use stats::{EngineStats, StatsSnapshot};
