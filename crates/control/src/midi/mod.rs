//! MIDI control: a thin adapter onto the control API's [`Handle`], on a thread of its
//! own, through JACK MIDI ports: on the audio client (`troubadour:midi_in`,
//! `troubadour:midi_out`) while the audio backend is JACK, else on a client of its own
//! (`troubadour-midi:in`, `troubadour-midi:out`) open whenever a JACK server answers.
//!
//! The session's `[[midi]]` mappings bind controls to parameters ([`map`]); a moved
//! control becomes a `set` request (on the parameter's `…/norm` form for absolute
//! controls, so a CC follows the console's fader taper) with the origin `midi:<n>`,
//! validated, broadcast, undoable and saved like any other. Changes made elsewhere go
//! back to mappings with `feedback`. `[[macro]]` buttons send `macro_run`. A
//! `midi_learn` request maps the next control moved. docs/MIDI.md has the whole story.
//!
//! ```no_run
//! # fn demo(handle: troubadour_control::service::Handle) -> std::io::Result<()> {
//! use troubadour_control::midi::{self, MidiOptions};
//!
//! let options = MidiOptions { inputs: vec!["a2j:.*".into()], ..Default::default() };
//! let midi = midi::start(options, handle)?;
//! // … until the mixer stops; then, before the service shuts down:
//! midi.stop();
//! # Ok(()) }
//! ```

mod decode;
mod learn;
pub mod map;
mod serve;
mod stats;
pub mod targets;

use std::sync::Arc;
use std::sync::mpsc;
use std::thread::Thread;
use std::time::Instant;

use tokio::sync::broadcast::{self, error::RecvError};
use troubadour_io::midi::MidiHub;

pub use decode::{Decoder, Message};
pub use learn::learned;
pub use stats::MidiCounters;

use crate::event::Outgoing;
use crate::service::Handle;
use crate::worker::Worker;

/// Which ports to connect to ours, by name or JACK regular expression (connected when
/// they appear, and again after the server comes back), and where a JACK audio backend
/// attaches MIDI ports on its own client.
#[derive(Debug, Clone, Default)]
pub struct MidiOptions {
    /// MIDI output ports of surfaces, to our input.
    pub inputs: Vec<String>,
    /// MIDI input ports of surfaces, for feedback from our output.
    pub outputs: Vec<String>,
    /// The hub given to the host too (`HostConfig::midi`): while a JACK backend runs,
    /// MIDI uses the ports it carries; otherwise a client of its own.
    pub hub: Option<Arc<MidiHub>>,
}

/// The serving MIDI thread (control side). Stop it with [`Midi::stop`] before the
/// service shuts down; dropping it stops it too.
pub struct Midi {
    counters: Arc<MidiCounters>,
    worker: Worker,
}

/// Starts the MIDI thread for `handle`. It looks for a JACK server at once and every
/// second while none answers.
pub fn start(options: MidiOptions, handle: Handle) -> std::io::Result<Midi> {
    let counters = Arc::new(MidiCounters::default());
    let (events_tx, events) = mpsc::channel();
    let service_events = handle.events();
    let shared = Arc::clone(&counters);
    let worker = Worker::spawn("troubadour-midi", move |stop| {
        serve::Server {
            events,
            handle,
            options,
            stop,
            counters: shared,
            jack: None,
            next_try: Instant::now(),
            decoder: Decoder::default(),
            mapper: map::Mapper::default(),
            learning: None,
            listening: false,
            sources_due: Instant::now(),
            waiting: None,
        }
        .run()
    })?;
    if let Some(wake) = worker.thread().cloned() {
        std::thread::Builder::new()
            .name("troubadour-midi-events".into())
            .spawn(move || forward(service_events, events_tx, wake))?;
    }
    Ok(Midi { counters, worker })
}

/// Hands the service's events to the MIDI thread and wakes it, so it sleeps while
/// nothing happens and still sends feedback at once. Blocks in the channel between
/// events; ends when the service's events end or the MIDI thread is gone (at the next
/// event after it stopped).
fn forward(
    mut from: broadcast::Receiver<Arc<Outgoing>>,
    to: mpsc::Sender<Option<Arc<Outgoing>>>,
    wake: Thread,
) {
    loop {
        let event = match from.blocking_recv() {
            Ok(e) => Some(e),
            Err(RecvError::Lagged(n)) => {
                tracing::debug!(target: "troubadour::midi", "missed {n} events");
                None
            }
            Err(RecvError::Closed) => return,
        };
        if to.send(event).is_err() {
            return;
        }
        wake.unpark();
    }
}

impl Midi {
    /// The counters, for `/metrics`.
    pub fn counters(&self) -> Arc<MidiCounters> {
        Arc::clone(&self.counters)
    }

    /// Stops the thread and waits for it (a second at most).
    pub fn stop(self) {
        self.worker.stop();
    }
}
