//! The supervisor of a running Troubadour: the [`Host`] owns the session, the one
//! [`Controller`](troubadour_engine::Controller) and the running backend for the whole
//! life of the process.
//!
//! It picks the backend (`auto`: JACK when a server answers, else cpal when its default
//! host has an output device, else the null backend, saying why), restarts it when its
//! server or clock device is lost (with backoff), when the server's rate changes or when
//! an edit of the session needs other ports, rate or period, and applies edits of the
//! session file live (parameters glide, structural changes swap the graph, invalid
//! edits are refused while the running session plays on). Through all of it the
//! controller stays the same: a new engine is spawned from it for each start, so meters,
//! statistics and the session are read through one handle whatever runs underneath.
//!
//! Everything it does is told as [`HostEvent`]s to any number of listeners, without
//! ever blocking the host: the command line's status output is one listener, a control
//! server another.
//!
//! The host is driven by its owner's thread: call [`Host::tick`] every few tens of
//! milliseconds.

mod backoff;
mod event;
mod host;
pub mod memory;
mod overload;
mod pick;
mod watch;

pub use backoff::Backoff;
pub use event::{HostEvent, LISTENER_BACKLOG};
pub use host::{Host, HostConfig, HostError, HostStatus, RecordError, RecorderStatus};
pub use pick::BackendChoice;
pub use watch::{CHECK_EVERY, FileChange, Watch};
