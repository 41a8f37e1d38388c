//! MIDI in and out through JACK: a client of its own (`troubadour-midi`, apart from the
//! audio backend's, so MIDI runs whichever backend plays) with one MIDI input port and
//! one MIDI output port.
//!
//! The process callback only moves bytes: every incoming event's bytes go into a
//! lock-free ring (whole, or not at all, counted as dropped), and the 3-byte messages
//! queued by the control side go out. Decoding, mapping and everything else happen on
//! the control side. The split is in the types: [`MidiPump`] is the audio side (moved
//! into the callback), [`MidiLink`] the control side.
//!
//! Waking the control side from the callback would be a system call (a futex wake) on
//! the audio thread, so the callback never does: it only stamps each period (a count
//! and the time it pumped). The control side, while a surface is connected to our
//! input, sleeps until just after the next period is due ([`JackMidi::next_input_in`])
//! and reads what it brought: one wake-up a period, locked to the server's clock, a
//! fraction of a millisecond after the bytes arrived. With nothing connected nothing
//! can arrive, and it sleeps until a notification or a long timeout. (Polling on a
//! fixed 1 ms clock cost an idle mixer a thousand wake-ups a second: see
//! docs/PERFORMANCE.md, "MIDI at rest".)
//!
//! ```
//! use troubadour_io::midi::link;
//!
//! let (mut control, mut pump) = link();
//! assert!(control.send([0xB0, 7, 64]));
//! let mut sent = Vec::new();
//! // In the callback: events in, queued messages out.
//! pump.pump([&[0x90u8, 36, 127][..]].into_iter(), |bytes| {
//!     sent.push(bytes.to_vec());
//!     true
//! });
//! assert_eq!(sent, [vec![0xB0, 7, 64]]);
//! let mut buf = [0u8; 16];
//! assert_eq!(control.read(&mut buf), 3);
//! assert_eq!(&buf[..3], &[0x90, 36, 127]);
//! ```

mod hub;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

pub use hub::{AttachedMidi, MidiHub};

use jack::{
    AsyncClient, Client, ClientOptions, ClientStatus, Control, MidiIn, MidiOut,
    NotificationHandler, Port, PortFlags, PortId, ProcessHandler, ProcessScope, RawMidi,
};
use troubadour_rt::ring::{Consumer, LockFreeRingBuffer, Producer};
use troubadour_rt::section;

use crate::jack::JackError;

/// Bytes of incoming MIDI the ring holds: at 3 bytes a message, over 20,000 messages,
/// far beyond what a surface sends in one period.
pub const IN_RING_BYTES: usize = 64 * 1024;

/// Feedback messages waiting to go out at most.
pub const OUT_RING_MESSAGES: usize = 4096;

/// The MIDI client's name on the server, when it has one of its own.
pub const CLIENT_NAME: &str = "troubadour-midi";

/// The passive client that connects surfaces to the audio client's MIDI ports.
pub const PATCH_CLIENT_NAME: &str = "troubadour-midi-patch";

/// The audio client's MIDI ports' short names.
pub const AUDIO_CLIENT_PORTS: (&str, &str) = ("midi_in", "midi_out");

/// A client on the default server, never starting one, without libjack's messages
/// (tried every second while no server answers).
fn open_quietly(name: &str) -> Result<Client, JackError> {
    jack::set_logger(jack::LoggerType::None);
    let opened = Client::new(name, ClientOptions::NO_START_SERVER);
    jack::set_logger(jack::LoggerType::Stdio);
    opened
        .map(|(client, _status)| client)
        .map_err(|e| JackError::NoServer(format!("cannot connect to the JACK server: {e}")))
}

/// Counters both sides read.
#[derive(Debug, Default)]
pub struct MidiStats {
    /// Events received.
    pub events_in: AtomicU64,
    /// Messages sent.
    pub events_out: AtomicU64,
    /// Incoming events dropped: the ring was full (the control side fell behind).
    pub dropped_in: AtomicU64,
    /// Periods whose outgoing messages did not all fit the port's buffer (the rest
    /// went out in the next one).
    pub out_full: AtomicU64,
    /// Allocations made in the callback (always 0).
    pub alloc_violations: AtomicU64,
    /// System calls made in the callback (always 0; counted where the kernel lets them
    /// be caught, see `troubadour_rt::syscall_guard`).
    pub syscall_violations: AtomicU64,
    /// Periods pumped.
    pub cycles: AtomicU64,
    /// When the latest period was pumped: nanoseconds since [`epoch`].
    pub last_cycle_ns: AtomicU64,
    /// The server shut the client down.
    pub gone: AtomicBool,
    /// A port appeared on the server since the control side last looked.
    pub ports_changed: AtomicBool,
    /// A connection to or from one of our ports was made or broken since the control
    /// side last looked (told only to a client of our own).
    pub connections_changed: AtomicBool,
}

/// The clock both sides read period stamps against (set by the control side when it
/// makes a link, before any pump runs).
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// How long after a period is due the control side looks for its input: the callback
/// pumps after the mix, whose length varies a little from period to period.
const AFTER_DUE: Duration = Duration::from_micros(50);

/// How soon, at the least, the control side looks again when a period is later than
/// due; the later it is, the longer the next look waits (up to a period), so a server
/// that stopped costs a few looks, not one every 50 µs.
const LATE_LOOK: Duration = Duration::from_micros(50);

/// The control side: what came in, what is to go out.
pub struct MidiLink {
    incoming: Consumer<u8>,
    outgoing: Producer<[u8; 3]>,
    stats: Arc<MidiStats>,
}

/// The audio side, run in the process callback.
pub struct MidiPump {
    incoming: Producer<u8>,
    outgoing: Consumer<[u8; 3]>,
    stats: Arc<MidiStats>,
    /// Where period stamps are measured from.
    epoch: Instant,
}

/// A linked pair of the two sides (allocates the rings: control side only).
pub fn link() -> (MidiLink, MidiPump) {
    let (in_tx, in_rx) = LockFreeRingBuffer::with_capacity(IN_RING_BYTES);
    let (out_tx, out_rx) = LockFreeRingBuffer::with_capacity(OUT_RING_MESSAGES);
    let stats = Arc::new(MidiStats::default());
    (
        MidiLink {
            incoming: in_rx,
            outgoing: out_tx,
            stats: Arc::clone(&stats),
        },
        MidiPump {
            incoming: in_tx,
            outgoing: out_rx,
            stats,
            epoch: epoch(),
        },
    )
}

impl MidiLink {
    /// Control side: copies the bytes received so far into `buf`; returns how many.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        self.incoming.read(buf)
    }

    /// Control side: queues a message to send; `false` if the queue is full.
    pub fn send(&mut self, message: [u8; 3]) -> bool {
        self.outgoing.push(message).is_ok()
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<MidiStats> {
        &self.stats
    }

    /// When the control side should look for input next, if periods are running: a
    /// little after the next one is due (or soon, if it is late), given a period of
    /// `period`. `None` while no period has been pumped for four periods (no server
    /// clock to lock to: stopped, freewheeling, or not started).
    pub fn next_input_in(&self, period: Duration) -> Option<Duration> {
        let stats = &self.stats;
        if stats.cycles.load(Ordering::Acquire) == 0 || period.is_zero() {
            return None;
        }
        let last = Duration::from_nanos(stats.last_cycle_ns.load(Ordering::Acquire));
        look_in(last, epoch().elapsed(), period)
    }

    /// Periods pumped so far.
    pub fn cycles(&self) -> u64 {
        self.stats.cycles.load(Ordering::Acquire)
    }
}

/// When to look for the input of the period after one pumped at `last`, at `now`.
fn look_in(last: Duration, now: Duration, period: Duration) -> Option<Duration> {
    if now.saturating_sub(last) > 4 * period {
        return None;
    }
    let due = last + period + AFTER_DUE;
    Some(
        due.checked_sub(now)
            .unwrap_or_else(|| (now - due).clamp(LATE_LOOK, period)),
    )
}

impl MidiPump {
    /// Audio side: the period's incoming events (their bytes) into the ring, then the
    /// queued messages out through `write` (which answers whether the port took one),
    /// then the period stamped. Allocates nothing, locks nothing, makes no system call
    /// (the stamp reads the clock through the vDSO).
    pub fn pump<'a>(
        &mut self,
        events: impl Iterator<Item = &'a [u8]>,
        mut write: impl FnMut(&[u8]) -> bool,
    ) {
        let ((), made) = section::forbidden(|| {
            let stats = &self.stats;
            for bytes in events {
                stats.events_in.fetch_add(1, Ordering::Relaxed);
                // Whole or not at all: half a message would garble the next.
                if self.incoming.free() >= bytes.len() {
                    self.incoming.write(bytes);
                } else {
                    stats.dropped_in.fetch_add(1, Ordering::Relaxed);
                }
            }
            while let Some(message) = self.outgoing.peek().copied() {
                if !write(&message) {
                    // The port's buffer is full this period: the rest waits for the next.
                    stats.out_full.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                self.outgoing.pop();
                stats.events_out.fetch_add(1, Ordering::Relaxed);
            }
            let now = self.epoch.elapsed().as_nanos() as u64;
            stats.last_cycle_ns.store(now, Ordering::Relaxed);
            // Release: a control side that sees the count sees the stamp and the bytes.
            stats.cycles.fetch_add(1, Ordering::Release);
        });
        if made.allocations > 0 {
            self.stats
                .alloc_violations
                .fetch_add(made.allocations, Ordering::Relaxed);
        }
        if made.syscalls > 0 {
            self.stats
                .syscall_violations
                .fetch_add(made.syscalls, Ordering::Relaxed);
        }
    }
}

struct Process {
    pump: MidiPump,
    input: Port<MidiIn>,
    output: Port<MidiOut>,
}

impl ProcessHandler for Process {
    fn process(&mut self, _: &Client, ps: &ProcessScope) -> Control {
        let mut writer = self.output.writer(ps);
        let events = self.input.iter(ps).map(|e| e.bytes);
        self.pump.pump(events, |bytes| {
            writer.write(&RawMidi { time: 0, bytes }).is_ok()
        });
        Control::Continue
    }
}

struct Notifications {
    stats: Arc<MidiStats>,
    wake: Thread,
}

impl NotificationHandler for Notifications {
    unsafe fn shutdown(&mut self, _status: ClientStatus, _reason: &str) {
        // Async-signal context: only an atomic store.
        self.stats.gone.store(true, Ordering::Relaxed);
    }

    fn port_registration(&mut self, _: &Client, _port: PortId, registered: bool) {
        if registered {
            self.stats.ports_changed.store(true, Ordering::Relaxed);
            // JACK's notification thread, not the process one: waking here is free.
            self.wake.unpark();
        }
    }

    fn ports_connected(&mut self, _: &Client, _a: PortId, _b: PortId, _connected: bool) {
        self.stats
            .connections_changed
            .store(true, Ordering::Relaxed);
        self.wake.unpark();
    }
}

/// The running JACK MIDI ports (control side): on a client of their own, or on the
/// audio backend's client (through a [`MidiHub`]) with a passive client that only
/// makes connections.
pub struct JackMidi {
    client: MidiClient,
    link: MidiLink,
    in_port: String,
    out_port: String,
}

enum MidiClient {
    /// Our own client, with the ports, in the server's graph.
    Own(AsyncClient<Notifications, Process>),
    /// Never activated: not in the graph, so never woken by a period; it only asks the
    /// server for connections to the audio client's MIDI ports.
    Patch(Client),
}

impl JackMidi {
    /// Opens [`CLIENT_NAME`] on the default server (`$JACK_DEFAULT_SERVER`), never
    /// starting one, with ports `in` and `out`, and starts it. `wake` is unparked when a
    /// port appears or a connection changes (not when input arrives: see the module's
    /// documentation).
    pub fn open(wake: Thread) -> Result<JackMidi, JackError> {
        let client = open_quietly(CLIENT_NAME)?;
        let err = |e: jack::Error| JackError::NoServer(format!("JACK MIDI: {e}"));
        let input = client.register_port("in", MidiIn::default()).map_err(err)?;
        let output = client
            .register_port("out", MidiOut::default())
            .map_err(err)?;
        let in_port = input.name().map_err(err)?;
        let out_port = output.name().map_err(err)?;
        let (link, pump) = link();
        let notifications = Notifications {
            stats: Arc::clone(link.stats()),
            wake,
        };
        let process = Process {
            pump,
            input,
            output,
        };
        let client = client.activate_async(notifications, process).map_err(err)?;
        Ok(JackMidi {
            client: MidiClient::Own(client),
            link,
            in_port,
            out_port,
        })
    }

    /// The ports the audio backend's client carries (see [`MidiHub`]), with a passive
    /// client of [`PATCH_CLIENT_NAME`] for connections. New ports of surfaces are not
    /// announced to a passive client: call [`JackMidi::connect_from`] and
    /// [`JackMidi::connect_to`] now and then.
    /// On an error the ports come back, to try again later.
    pub fn attached(ports: AttachedMidi) -> Result<JackMidi, Box<(JackError, AttachedMidi)>> {
        let client = match open_quietly(PATCH_CLIENT_NAME) {
            Ok(c) => c,
            Err(e) => return Err(Box::new((e, ports))),
        };
        Ok(JackMidi {
            client: MidiClient::Patch(client),
            link: ports.link,
            in_port: ports.in_port,
            out_port: ports.out_port,
        })
    }

    /// Whether the ports are the audio client's (and new surface ports must be looked
    /// for, not waited for).
    pub fn on_audio_client(&self) -> bool {
        matches!(self.client, MidiClient::Patch(_))
    }

    fn client(&self) -> &Client {
        match &self.client {
            MidiClient::Own(c) => c.as_client(),
            MidiClient::Patch(c) => c,
        }
    }

    /// The control side of the rings.
    pub fn link(&mut self) -> &mut MidiLink {
        &mut self.link
    }

    /// The callback's counters.
    pub fn stats(&self) -> &Arc<MidiStats> {
        &self.link.stats
    }

    /// Our ports' full names (`troubadour-midi:in`, `troubadour-midi:out` on a client
    /// of their own; `troubadour:midi_in`, `troubadour:midi_out` on the audio client).
    pub fn port_names(&self) -> (&str, &str) {
        (&self.in_port, &self.out_port)
    }

    /// Whether the server went away (the client is dead: drop it and open anew).
    pub fn is_gone(&self) -> bool {
        self.link.stats.gone.load(Ordering::Relaxed)
    }

    /// Whether ports appeared since the last call (time to connect again).
    pub fn take_ports_changed(&self) -> bool {
        self.link.stats.ports_changed.swap(false, Ordering::Relaxed)
    }

    /// Whether connections to or from our ports changed since the last call (told only
    /// to a client of our own; on the audio client, look with [`JackMidi::has_sources`]
    /// now and then).
    pub fn take_connections_changed(&self) -> bool {
        self.link
            .stats
            .connections_changed
            .swap(false, Ordering::Relaxed)
    }

    /// Whether anything is connected to our input: while nothing is, nothing can
    /// arrive, and the control side need not look.
    pub fn has_sources(&self) -> bool {
        self.client()
            .port_by_name(&self.in_port)
            .is_some_and(|p| p.connected_count().unwrap_or(0) > 0)
    }

    /// When to look for input next (see [`MidiLink::next_input_in`]), at the server's
    /// period.
    pub fn next_input_in(&self) -> Option<Duration> {
        let client = self.client();
        let rate = client.sample_rate().max(1) as f64;
        let period = Duration::from_secs_f64(f64::from(client.buffer_size()) / rate);
        self.link.next_input_in(period)
    }

    /// Connects the MIDI output ports matching `pattern` (a port name or JACK's regular
    /// expression) to our input; returns the ports newly connected.
    pub fn connect_from(&self, pattern: &str) -> Vec<String> {
        let client = self.client();
        let ours = self.in_port.clone();
        client
            .ports(Some(pattern), Some("midi"), PortFlags::IS_OUTPUT)
            .into_iter()
            .filter(|p| *p != self.out_port)
            .filter(|p| {
                client
                    .port_by_name(p)
                    .is_some_and(|port| !port.is_connected_to(&ours).unwrap_or(false))
            })
            .filter(|p| client.connect_ports_by_name(p, &ours).is_ok())
            .collect()
    }

    /// Connects our output to the MIDI input ports matching `pattern`.
    pub fn connect_to(&self, pattern: &str) -> Vec<String> {
        let client = self.client();
        let ours = self.out_port.clone();
        let Some(out) = client.port_by_name(&ours) else {
            return Vec::new();
        };
        client
            .ports(Some(pattern), Some("midi"), PortFlags::IS_INPUT)
            .into_iter()
            .filter(|p| *p != self.in_port)
            .filter(|p| !out.is_connected_to(p).unwrap_or(false))
            .filter(|p| client.connect_ports_by_name(&ours, p).is_ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_side_looks_just_after_the_next_period_is_due() {
        let ms = Duration::from_millis;
        let period = ms(10);
        // Pumped at 100 ms: at 101 ms the next period is due at 110, looked at just after.
        assert_eq!(look_in(ms(100), ms(101), period), Some(ms(9) + AFTER_DUE));
        // Past that and the period has not come (a long mix, a late server): soon
        // again, the sooner the less late it is, and at most a period on.
        let us = Duration::from_micros;
        assert_eq!(look_in(ms(100), ms(110) + us(60), period), Some(LATE_LOOK));
        assert_eq!(look_in(ms(100), ms(111), period), Some(us(950)));
        assert_eq!(look_in(ms(100), ms(140), period), Some(period));
        // Four periods without one: no clock to lock to.
        assert_eq!(look_in(ms(100), ms(141), period), None);
    }

    #[test]
    fn a_pump_stamps_its_period_and_the_link_locks_to_it() {
        let (link, mut pump) = link();
        assert_eq!(link.cycles(), 0);
        assert_eq!(
            link.next_input_in(Duration::from_secs(1)),
            None,
            "no period yet"
        );
        pump.pump(std::iter::empty(), |_| true);
        assert_eq!(link.cycles(), 1);
        let look = link
            .next_input_in(Duration::from_secs(1))
            .expect("a period to lock to");
        assert!(look <= Duration::from_secs(1) + AFTER_DUE, "{look:?}");
        assert!(look > Duration::from_millis(500), "{look:?}");
    }
}
