//! The MIDI surface's counters: atomics the MIDI thread bumps and `/metrics` reads,
//! with the JACK client's own (events through the callback, drops, allocations there).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use troubadour_io::midi::MidiStats;

/// Counters of the MIDI surface (see [`MidiCounters::write_metrics`]).
#[derive(Debug, Default)]
pub struct MidiCounters {
    messages: AtomicU64,
    applied: AtomicU64,
    refused: AtomicU64,
    coalesced: AtomicU64,
    feedback: AtomicU64,
    feedback_dropped: AtomicU64,
    bindings: AtomicU64,
    connected: AtomicU64,
    /// The current JACK client's counters (replaced when it reconnects). Locked only
    /// by the MIDI thread on (re)connection and by `/metrics`, never by the callback.
    client: Mutex<Option<Arc<MidiStats>>>,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl MidiCounters {
    pub(super) fn messages(&self, n: usize) {
        add(&self.messages, n as u64);
    }
    pub(super) fn applied(&self) {
        add(&self.applied, 1);
    }
    pub(super) fn refused(&self) {
        add(&self.refused, 1);
    }
    pub(super) fn coalesced(&self) {
        add(&self.coalesced, 1);
    }
    pub(super) fn feedback(&self) {
        add(&self.feedback, 1);
    }
    pub(super) fn feedback_dropped(&self) {
        add(&self.feedback_dropped, 1);
    }
    pub(super) fn set_bindings(&self, n: usize) {
        self.bindings.store(n as u64, Ordering::Relaxed);
    }
    pub(super) fn set_client(&self, stats: Option<Arc<MidiStats>>) {
        self.connected
            .store(u64::from(stats.is_some()), Ordering::Relaxed);
        if let Ok(mut c) = self.client.lock() {
            *c = stats;
        }
    }

    /// Messages decoded so far.
    pub fn messages_total(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// Whether a JACK MIDI client is open.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed) == 1
    }

    /// Appends the counters in the Prometheus text format.
    pub fn write_metrics(&self, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut line = |name: &str, kind: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP troubadour_midi_{name} {help}");
            let _ = writeln!(out, "# TYPE troubadour_midi_{name} {kind}");
            let _ = writeln!(out, "troubadour_midi_{name} {value}");
        };
        line(
            "messages_total",
            "counter",
            "MIDI messages decoded",
            get(&self.messages),
        );
        line(
            "applied_total",
            "counter",
            "Changes and macros MIDI asked for that were applied",
            get(&self.applied),
        );
        line(
            "refused_total",
            "counter",
            "Changes MIDI asked for that the control API refused",
            get(&self.refused),
        );
        line(
            "coalesced_total",
            "counter",
            "Sets skipped for a later one of the same control in one read",
            get(&self.coalesced),
        );
        line(
            "feedback_total",
            "counter",
            "Feedback messages queued to the surface",
            get(&self.feedback),
        );
        line(
            "feedback_dropped_total",
            "counter",
            "Feedback messages dropped: the queue was full",
            get(&self.feedback_dropped),
        );
        line(
            "bindings",
            "gauge",
            "MIDI mappings bound to a parameter",
            get(&self.bindings),
        );
        line(
            "connected",
            "gauge",
            "1 while the JACK MIDI client is open",
            get(&self.connected),
        );
        let client = self.client.lock().ok().and_then(|c| c.clone());
        if let Some(s) = client {
            line(
                "events_in_total",
                "counter",
                "MIDI events the JACK callback received (this connection)",
                get(&s.events_in),
            );
            line(
                "events_out_total",
                "counter",
                "MIDI messages the JACK callback sent (this connection)",
                get(&s.events_out),
            );
            line(
                "dropped_in_total",
                "counter",
                "Incoming events dropped: the ring was full",
                get(&s.dropped_in),
            );
            line(
                "callback_allocations_total",
                "counter",
                "Allocations in the JACK MIDI callback (always 0)",
                get(&s.alloc_violations),
            );
            line(
                "callback_syscalls_total",
                "counter",
                "System calls in the JACK MIDI callback (always 0)",
                get(&s.syscall_violations),
            );
        }
    }
}
