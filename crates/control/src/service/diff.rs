//! What changed between two sessions, as the events subscribers apply: a `changed`
//! event per parameter that differs, `structure_changed` when something no parameter
//! path describes changed (strips or buses added, removed, renamed, reordered; a source,
//! sink, channel count, processor or send added or removed), `scenes_changed` for the
//! scene list, `midi_changed` for the MIDI mappings and macros.

use std::collections::BTreeMap;

use serde_json::Value;
use troubadour_engine::session::{Session, Source};
use troubadour_host::HostEvent;

use crate::namespace;

/// The differences between `old` and `new`.
#[derive(Debug, Default, PartialEq)]
pub struct Diff {
    /// Parameters present in both whose values differ, with the new value.
    pub changed: Vec<(String, Value)>,
    /// Something beyond parameter values changed: clients fetch the state again.
    pub structure: bool,
    /// The scenes differ.
    pub scenes: bool,
    /// The MIDI mappings or macros differ.
    pub midi: bool,
}

pub fn diff(old: &Session, new: &Session) -> Diff {
    let before: BTreeMap<String, Value> = namespace::flatten(old).into_iter().collect();
    let after = namespace::flatten(new);
    let same_paths =
        before.len() == after.len() && after.iter().all(|(p, _)| before.contains_key(p));
    let changed = after
        .into_iter()
        .filter(|(p, v)| before.get(p).is_some_and(|b| b != v))
        .collect();
    let strips_same = old.strips.len() == new.strips.len()
        && old.strips.iter().zip(&new.strips).all(|(a, b)| {
            a.name == b.name
                && a.channels == b.channels
                && same_source(&a.source, &b.source)
                && a.compressor.as_ref().map(|c| &c.sidechain)
                    == b.compressor.as_ref().map(|c| &c.sidechain)
        });
    let buses_same = old.buses.len() == new.buses.len()
        && old
            .buses
            .iter()
            .zip(&new.buses)
            .all(|(a, b)| a.name == b.name && a.channels == b.channels && a.sink == b.sink);
    Diff {
        changed,
        structure: !(same_paths && strips_same && buses_same),
        scenes: old.scenes != new.scenes,
        midi: old.midi != new.midi || old.macros != new.macros,
    }
}

/// The same source but for a file's `loop`, which is a parameter
/// (`strip/<id>/player/loop`), told as a change of its own.
fn same_source(a: &Source, b: &Source) -> bool {
    match (a, b) {
        (Source::File { path: x, .. }, Source::File { path: y, .. }) => x == y,
        _ => a == b,
    }
}

/// A host event's name on the wire (`{"event": …}` of the `status` topic).
pub fn host_event_kind(e: &HostEvent) -> &'static str {
    match e {
        HostEvent::BackendStarted { .. } => "backend_started",
        HostEvent::Note(_) => "note",
        HostEvent::DeviceOffline(_) => "device_offline",
        HostEvent::DeviceOnline(_) => "device_online",
        HostEvent::BackendLost { .. } => "backend_lost",
        HostEvent::Reconnected { .. } => "backend_back",
        HostEvent::RetryFailed(_) => "retry_failed",
        HostEvent::PeriodChanged(_) => "period_changed",
        HostEvent::Restarting(_) => "restarting",
        HostEvent::Restarted { .. } => "restarted",
        HostEvent::ReloadApplied { .. } => "reload_applied",
        HostEvent::ReloadRejected { .. } => "reload_rejected",
        HostEvent::SessionFileGone(_) => "session_file_gone",
        HostEvent::Overloaded { .. } => "overloaded",
        HostEvent::AllocationsInCallback(_) => "allocations_in_callback",
        HostEvent::SyscallsInCallback(..) => "syscalls_in_callback",
        HostEvent::RecorderChanged { .. } => "recorder_changed",
        HostEvent::RecorderFramesLost { .. } => "recorder_frames_lost",
        HostEvent::RecorderStopped { .. } => "recorder_stopped",
        HostEvent::TakesRepaired { .. } => "takes_repaired",
        HostEvent::SinkRecording { .. } => "sink_recording",
        HostEvent::SinkFinished { .. } => "sink_finished",
        HostEvent::SinksRepaired { .. } => "sinks_repaired",
    }
}
