//! MIDI ports on the audio backend's own JACK client, handed to the MIDI thread.
//!
//! A JACK client of its own for MIDI is one more client the server wakes every period,
//! whether or not a surface talks: measured, that alone cost an idle mixer more than
//! the 0.1 % of a core allowed for OSC and MIDI at rest (docs/PERFORMANCE.md). When the
//! audio backend is JACK, its client carries the MIDI ports instead and its process
//! callback pumps them; the hub is how the two sides meet, since the backend comes and
//! goes (server restarts) while the MIDI thread lives as long as the mixer.
//!
//! The backend calls [`MidiHub::attach`] when it starts (a fresh pair of rings, the
//! pump for its callback) and [`MidiHub::detach`] when it stops; the MIDI thread takes
//! each new link with [`MidiHub::take`] and sees a detached one as gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;

use super::{MidiLink, MidiPump, MidiStats, link};

/// The MIDI ports of a running audio backend, as the MIDI thread takes them.
pub struct AttachedMidi {
    /// The control side of the rings.
    pub link: MidiLink,
    /// Our input's full name (e.g. `troubadour:midi_in`).
    pub in_port: String,
    /// Our output's full name.
    pub out_port: String,
}

/// Where the audio backend and the MIDI thread meet (shared by both).
#[derive(Default)]
pub struct MidiHub {
    /// The MIDI thread, woken when a link is attached or detached (set once it runs).
    wake: OnceLock<Thread>,
    /// A link attached and not taken yet.
    fresh: Mutex<Option<AttachedMidi>>,
    /// The link attached now: its counters (to mark it gone at detach) and ports.
    current: Mutex<Option<(Arc<MidiStats>, String, String)>>,
    attached: AtomicBool,
}

impl MidiHub {
    /// A hub with nothing attached.
    pub fn new() -> Arc<MidiHub> {
        Arc::new(MidiHub::default())
    }

    /// MIDI thread: the thread woken when a link is attached or detached (the first
    /// call wins; it is the one MIDI thread of the process). Wakes it at once if a link
    /// waits.
    pub fn set_waker(&self, thread: Thread) {
        let _ = self.wake.set(thread);
        self.wake_now();
    }

    /// Backend (control side of its start, not its callback): a new pair of rings for
    /// ports `in_port` and `out_port`. The pump goes into the process callback; the
    /// link waits for the MIDI thread.
    pub fn attach(&self, in_port: String, out_port: String) -> MidiPump {
        let (link, pump) = link();
        *lock(&self.current) = Some((Arc::clone(link.stats()), in_port.clone(), out_port.clone()));
        *lock(&self.fresh) = Some(AttachedMidi {
            link,
            in_port,
            out_port,
        });
        self.attached.store(true, Ordering::Release);
        self.wake_now();
        pump
    }

    /// Backend: its ports are gone (stopped, or the server went away).
    pub fn detach(&self) {
        self.attached.store(false, Ordering::Release);
        lock(&self.fresh).take();
        if let Some((stats, ..)) = lock(&self.current).take() {
            stats.gone.store(true, Ordering::Relaxed);
        }
        self.wake_now();
    }

    /// MIDI thread: a link attached since the last call.
    pub fn take(&self) -> Option<AttachedMidi> {
        lock(&self.fresh).take()
    }

    /// The full names of the input and output attached now.
    pub fn ports(&self) -> Option<(String, String)> {
        lock(&self.current)
            .as_ref()
            .map(|(_, i, o)| (i.clone(), o.clone()))
    }

    /// Whether a backend carries the MIDI ports now.
    pub fn is_attached(&self) -> bool {
        self.attached.load(Ordering::Acquire)
    }

    fn wake_now(&self) {
        if let Some(t) = self.wake.get() {
            t.unpark();
        }
    }
}

impl std::fmt::Debug for MidiHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MidiHub")
            .field("attached", &self.is_attached())
            .finish_non_exhaustive()
    }
}

/// A poisoned lock only means a panic elsewhere mid-swap of an `Option`: the value is
/// still whole.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_attached_reaches_the_midi_thread_and_a_detach_marks_it_gone() {
        let hub = MidiHub::new();
        assert!(hub.take().is_none());
        assert!(!hub.is_attached());
        let mut pump = hub.attach("t:midi_in".into(), "t:midi_out".into());
        assert!(hub.is_attached());
        let mut attached = hub.take().expect("the link waits for the MIDI thread");
        assert!(hub.take().is_none(), "taken once");
        assert_eq!(attached.in_port, "t:midi_in");
        assert_eq!(hub.ports(), Some(("t:midi_in".into(), "t:midi_out".into())));
        // The pair is linked: bytes in through the pump reach the link, and back.
        assert!(attached.link.send([0xB0, 7, 1]));
        let mut out = Vec::new();
        pump.pump([&[0x90u8, 36, 100][..]].into_iter(), |b| {
            out.push(b.to_vec());
            true
        });
        assert_eq!(out, [vec![0xB0, 7, 1]]);
        let mut buf = [0u8; 8];
        assert_eq!(attached.link.read(&mut buf), 3);
        let stats = Arc::clone(attached.link.stats());
        assert!(!stats.gone.load(Ordering::Relaxed));
        hub.detach();
        assert!(!hub.is_attached());
        assert_eq!(hub.ports(), None);
        assert!(
            stats.gone.load(Ordering::Relaxed),
            "the MIDI thread sees it gone"
        );
    }

    #[test]
    fn a_detach_wakes_the_thread_set_after_the_attach() {
        let hub = MidiHub::new();
        // The backend starts before the MIDI thread exists.
        let _pump = hub.attach("a".into(), "b".into());
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            // Parked until woken: by set_waker's own wake, then by the detach.
            let mut wakes = 0;
            while wakes < 2 {
                std::thread::park();
                wakes += 1;
                tx.send(()).unwrap();
            }
        });
        hub.set_waker(waiter.thread().clone());
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("woken by set_waker");
        hub.detach();
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("woken by the detach");
        waiter.join().unwrap();
    }
}
