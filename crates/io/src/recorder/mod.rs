//! The recorder's disk half: takes (a folder per take, a file per track, a manifest),
//! the writer thread that drains the engine's rings, and the repair of takes a crash
//! interrupted. The real-time half is [`troubadour_engine::recorder`].

mod clock;
mod format;
mod manifest;
mod repair;
mod sinks;
mod take;
mod writer;

pub use clock::utc_stamps;
pub use format::TakeFormat;
pub use manifest::{MANIFEST, Manifest, ManifestTrack, Marker, TakeState};
pub use repair::{RepairedTake, repair_takes};
pub use sinks::{MARKER_SUFFIX, RepairedSink, SinkFile, SinkRecording, SinkSetup, repair_sinks};
pub use take::{Take, TakeError, TakeSetup, TakeSummary};
pub use writer::{HEADER_EVERY, STALL_ENV, TrackResult, WriteError};
