//! Troubadour's audio backends.
//!
//! - [`render`]: the file backend: runs a session offline, as fast as the machine
//!   allows, through the very same `Engine::process` a live backend calls, and writes
//!   one WAV file per bus.
//! - [`null`]: the null backend: a thread that wakes on absolute deadlines every
//!   period, for machines without audio hardware.
//! - [`bridge`]: the clock bridge between a device and the master clock (ring buffer,
//!   asynchronous resampler, PI controller on the fill level).
//! - [`jack`]: the JACK backend: the engine inside the server's process callback.
//! - [`device`]: the cpal backend: an audio device's callback drives the engine.
//! - `pipewire` (feature `pipewire`): the engine inside one PipeWire filter node, and
//!   virtual devices for desktop applications.
//! - [`backend`]: the one interface every live backend implements.
//! - [`flac`]: FLAC files for takes and file sinks.
//! - [`recorder`]: takes on disk: the writer thread, manifests, crash repair.

pub mod accounting;
pub mod backend;
pub mod bridge;
#[cfg(feature = "cpal")]
pub mod device;
pub mod flac;
pub mod jack;
pub mod jack_server;
pub mod midi;
pub mod null;
#[cfg(feature = "pipewire")]
pub mod pipewire;
pub mod recorder;
pub mod render;
pub mod thread;
pub mod wav;
