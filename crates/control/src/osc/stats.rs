//! The OSC surface's counters: atomics the OSC thread bumps and `/metrics` reads.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a message was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Not OSC: undecodable, over 64 kB, nested too deep.
    Malformed,
    /// No such address (or strip, bus, send, scene).
    UnknownAddress,
    /// The arguments' types do not fit the address.
    WrongType,
    /// Valid, but the control API refused it (out of range, busy, …).
    Refused,
}

impl Failure {
    const ALL: [Failure; 4] = [
        Failure::Malformed,
        Failure::UnknownAddress,
        Failure::WrongType,
        Failure::Refused,
    ];

    /// The `kind` label of `troubadour_osc_errors_total`.
    pub fn label(self) -> &'static str {
        match self {
            Failure::Malformed => "malformed",
            Failure::UnknownAddress => "unknown_address",
            Failure::WrongType => "wrong_type",
            Failure::Refused => "refused",
        }
    }
}

/// Counters of the OSC surface, shared between its thread and the control thread's
/// `/metrics` (see [`OscStats::write_metrics`]).
///
/// ```
/// use troubadour_control::osc::{Failure, OscStats};
///
/// let stats = OscStats::default();
/// stats.packet();
/// stats.failed(Failure::WrongType);
/// let mut text = String::new();
/// stats.write_metrics(&mut text);
/// assert!(text.contains("troubadour_osc_packets_total 1\n"));
/// assert!(text.contains("troubadour_osc_errors_total{kind=\"wrong_type\"} 1\n"));
/// ```
#[derive(Debug, Default)]
pub struct OscStats {
    packets: AtomicU64,
    coalesced: AtomicU64,
    errors: [AtomicU64; 4],
    subscribers: AtomicU64,
}

impl OscStats {
    /// One datagram received (OSC thread).
    pub fn packet(&self) {
        self.packets.fetch_add(1, Ordering::Relaxed);
    }

    /// One set skipped: a later set of its address came in the same burst (OSC thread).
    pub fn coalesced(&self) {
        self.coalesced.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets skipped so far for a later one of the same address.
    pub fn coalesced_total(&self) -> u64 {
        self.coalesced.load(Ordering::Relaxed)
    }

    /// One message (or packet) not applied (OSC thread).
    pub fn failed(&self, why: Failure) {
        self.errors[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The number of live subscriptions, changes and meters counted apart (OSC thread).
    pub fn set_subscribers(&self, n: usize) {
        self.subscribers.store(n as u64, Ordering::Relaxed);
    }

    /// Datagrams received so far.
    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }

    /// Failures of this kind so far.
    pub fn errors(&self, why: Failure) -> u64 {
        self.errors[why as usize].load(Ordering::Relaxed)
    }

    /// Appends the Prometheus text of these counters (any thread).
    pub fn write_metrics(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP troubadour_osc_packets_total OSC datagrams received\n\
             # TYPE troubadour_osc_packets_total counter\n\
             troubadour_osc_packets_total {}",
            self.packets()
        );
        let _ = writeln!(
            out,
            "# HELP troubadour_osc_coalesced_total OSC sets skipped because a later set of \
             the same address came in the same burst\n\
             # TYPE troubadour_osc_coalesced_total counter\n\
             troubadour_osc_coalesced_total {}",
            self.coalesced_total()
        );
        let _ = writeln!(
            out,
            "# HELP troubadour_osc_errors_total OSC messages not applied, by why\n\
             # TYPE troubadour_osc_errors_total counter"
        );
        for why in Failure::ALL {
            let _ = writeln!(
                out,
                "troubadour_osc_errors_total{{kind=\"{}\"}} {}",
                why.label(),
                self.errors(why)
            );
        }
        let _ = writeln!(
            out,
            "# HELP troubadour_osc_subscribers OSC subscriptions alive (changes and meters)\n\
             # TYPE troubadour_osc_subscribers gauge\n\
             troubadour_osc_subscribers {}",
            self.subscribers.load(Ordering::Relaxed)
        );
    }
}
