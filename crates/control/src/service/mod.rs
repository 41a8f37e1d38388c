//! The control thread: owns the [`Host`](troubadour_host::Host), serves calls from every
//! surface, numbers and broadcasts changes, keeps undo history and scenes, saves.

mod handle;

pub use handle::{
    Answer, CALL_BACKLOG, Call, CallKind, EVENT_BACKLOG, Handle, METER_BACKLOG, MeterSubscription,
};

/// How often the control thread reads the meters while anyone listens.
pub const METER_RATE_HZ: u32 = 100;
