//! Troubadour's control plane.
//!
//! Every surface (the HTTP and WebSocket server here, OSC, MIDI, `troubadour ctl`) is
//! a thin adapter onto one [`Handle`](service::Handle): requests in the one
//! [parameter namespace](namespace) (`strip/Mic/fader_db`), validated once on the
//! control thread, applied glitch-free (parameter changes as commands that glide,
//! structural edits through the graph swap), broadcast as numbered events to every
//! subscriber, undoable, and saved back to the session file.

pub mod api;
pub mod event;
pub mod file;
pub mod launch;
pub mod midi;
pub mod namespace;
pub mod osc;
pub mod server;
pub mod service;
mod worker;
