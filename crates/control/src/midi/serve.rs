//! The MIDI thread: keeps a JACK MIDI client open while a server answers, turns what
//! comes in into requests on the [`Handle`] (so validation, events, undo and autosave
//! are the API's), sends feedback for the changes it hears, and learns.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use serde_json::Value;
use troubadour_engine::session::{MidiControl, Session};
use troubadour_io::midi::JackMidi;

use super::MidiOptions;
use super::decode::{Decoder, Message};
use super::learn::learned;
use super::map::{Effect, Mapper, origin};
use super::stats::MidiCounters;
use crate::api::{Reply, Request};
use crate::event::Outgoing;
use crate::service::{Handle, json_to_toml};

/// How long the thread sleeps at most. Events, connections and a stop wake it at once;
/// this bounds how late it notices a server that went away, and how late the first
/// message of a surface connected behind its back (to the audio client's ports, which
/// hear of no connection) is read.
const IDLE: Duration = Duration::from_millis(50);

/// How precisely the kernel keeps the thread's period-locked sleeps.
const TIMER_SLACK: Duration = Duration::from_micros(10);

/// How often a JACK server is looked for while none answers; also how often surfaces'
/// ports are looked for while MIDI rides on the audio client (its passive patching
/// client is not told when ports appear).
const RETRY: Duration = Duration::from_secs(1);

pub(super) struct Server {
    pub handle: Handle,
    pub options: MidiOptions,
    pub stop: Arc<AtomicBool>,
    pub counters: Arc<MidiCounters>,
    pub jack: Option<JackMidi>,
    pub next_try: Instant,
    pub decoder: Decoder,
    pub mapper: Mapper,
    /// The service's events, forwarded by [`super::forward`] (which wakes this thread);
    /// `None` stands for events missed.
    pub events: Receiver<Option<Arc<Outgoing>>>,
    /// A path waiting for the next control moved.
    pub learning: Option<String>,
    /// Whether anything is connected to our input: then the thread wakes once a period,
    /// just after the callback stamped it (the callback cannot wake us: that would be
    /// a system call on the audio thread).
    pub listening: bool,
    /// When to ask the server again whether anything is connected to our input.
    pub sources_due: Instant,
    /// Ports on the audio client taken from the hub but not yet taken up (their
    /// patching client could not open): tried again at `next_try`.
    pub waiting: Option<troubadour_io::midi::AttachedMidi>,
}

impl Server {
    pub fn run(mut self) {
        if let Some(hub) = &self.options.hub {
            hub.set_waker(std::thread::current());
        }
        self.reload();
        troubadour_io::thread::set_timer_slack(TIMER_SLACK);
        let mut buf = vec![0u8; 4096];
        let mut messages = Vec::new();
        while !self.stop.load(Ordering::Relaxed) {
            self.supervise();
            // Events first: a learn request answered before a control moved is taken
            // up before that control's message.
            self.forward_events();
            messages.clear();
            if let Some(jack) = self.jack.as_mut() {
                loop {
                    let n = jack.link().read(&mut buf);
                    messages.extend(buf[..n].iter().filter_map(|b| self.decoder.push(*b)));
                    if n < buf.len() {
                        break;
                    }
                }
            }
            if !messages.is_empty() {
                self.incoming(&messages);
            }
            if messages.is_empty() {
                // Asleep until the next period's input (while a surface is connected),
                // an event, a port, a stop or the next try: polling every millisecond
                // cost an idle mixer 4.5 % of a core.
                let mut nap = IDLE;
                if self.jack.as_ref().is_none_or(JackMidi::on_audio_client) {
                    nap = nap.min(self.next_try.saturating_duration_since(Instant::now()));
                }
                if self.listening
                    && let Some(look) = self.jack.as_ref().and_then(JackMidi::next_input_in)
                {
                    nap = nap.min(look);
                }
                std::thread::park_timeout(nap);
            }
        }
    }

    /// Opens the client when a server answers; drops it when the server goes;
    /// connects the ports named when they appear.
    fn supervise(&mut self) {
        if self.jack.as_ref().is_some_and(JackMidi::is_gone) {
            tracing::info!(target: "troubadour::midi", "MIDI's ports went away; MIDI waits for them");
            self.jack = None;
            self.decoder.reset();
            self.next_try = Instant::now() + RETRY;
        }
        // Ports on the audio client come first: they cost the server no client of ours
        // to wake every period. A link that could not be taken up waits for the next
        // try (a newer one replaces it; a detached one is gone).
        if let Some(fresh) = self.options.hub.as_ref().and_then(|h| h.take()) {
            self.waiting = Some(fresh);
            self.next_try = Instant::now();
        }
        if self
            .waiting
            .as_ref()
            .is_some_and(|w| w.link.stats().gone.load(Ordering::Relaxed))
        {
            self.waiting = None;
        }
        if Instant::now() >= self.next_try
            && let Some(ports) = self.waiting.take()
        {
            match JackMidi::attached(ports) {
                Ok(jack) => {
                    let (i, o) = jack.port_names();
                    tracing::info!(target: "troubadour::midi", "MIDI on the audio client: {i}, {o}");
                    self.decoder.reset();
                    self.counters.set_client(Some(Arc::clone(jack.stats())));
                    self.jack = Some(jack);
                    self.next_try = Instant::now() + RETRY;
                    self.connect();
                }
                Err(failed) => {
                    let (e, ports) = *failed;
                    tracing::warn!(target: "troubadour::midi", "MIDI on the audio client: {e}; trying again in {RETRY:?}");
                    self.waiting = Some(ports);
                    self.next_try = Instant::now() + RETRY;
                }
            }
        }
        let on_audio_client = self.options.hub.as_ref().is_some_and(|h| h.is_attached());
        if self.jack.is_none() && !on_audio_client && Instant::now() >= self.next_try {
            self.next_try = Instant::now() + RETRY;
            match JackMidi::open(std::thread::current()) {
                Ok(jack) => {
                    let (i, o) = jack.port_names();
                    tracing::info!(target: "troubadour::midi", "MIDI on JACK: {i}, {o}");
                    self.counters.set_client(Some(Arc::clone(jack.stats())));
                    self.jack = Some(jack);
                    self.connect();
                }
                Err(e) => {
                    tracing::debug!(target: "troubadour::midi", "no JACK MIDI yet: {e}");
                }
            }
        }
        if self.jack.as_ref().is_some_and(JackMidi::take_ports_changed) {
            self.connect();
        }
        if self.jack.as_ref().is_some_and(JackMidi::on_audio_client)
            && Instant::now() >= self.next_try
        {
            self.next_try = Instant::now() + RETRY;
            self.connect();
        }
        if self.jack.is_none() && self.counters.connected() {
            self.counters.set_client(None);
        }
        // A try that came due and that nothing above took up (no state of this loop
        // wants it now) is not a reason to wake at once, again and again.
        if self.next_try <= Instant::now() {
            self.next_try = Instant::now() + RETRY;
        }
        self.look_for_sources();
    }

    /// Whether anything is connected to our input, asked again when a connection
    /// changed (a client of our own hears of it) and otherwise every [`RETRY`].
    fn look_for_sources(&mut self) {
        let Some(jack) = &self.jack else {
            self.listening = false;
            return;
        };
        let now = Instant::now();
        if jack.take_connections_changed() || now >= self.sources_due {
            self.sources_due = now + RETRY;
            let listening = jack.has_sources();
            if listening != self.listening {
                tracing::debug!(target: "troubadour::midi", "MIDI input connected: {listening}");
            }
            self.listening = listening;
        }
    }

    /// Connects the ports named; a surface newly connected to our output is told where
    /// every value with feedback is.
    fn connect(&mut self) {
        // What this connects (or a surface just attached) is looked at right after.
        self.sources_due = Instant::now();
        let Some(jack) = &self.jack else { return };
        for pattern in &self.options.inputs {
            for port in jack.connect_from(pattern) {
                tracing::info!(target: "troubadour::midi", "MIDI in: connected {port}");
            }
        }
        let mut fresh = false;
        for pattern in &self.options.outputs {
            for port in jack.connect_to(pattern) {
                tracing::info!(target: "troubadour::midi", "MIDI out: connected {port}");
                fresh = true;
            }
        }
        if fresh {
            let feedback = self.mapper.all_feedback();
            self.send(&feedback);
        }
    }

    fn send(&mut self, messages: &[[u8; 3]]) {
        let Some(jack) = self.jack.as_mut() else {
            return;
        };
        for m in messages {
            if jack.link().send(*m) {
                self.counters.feedback();
            } else {
                self.counters.feedback_dropped();
            }
        }
    }

    /// The messages of one read: learned, or mapped and applied.
    fn incoming(&mut self, messages: &[Message]) {
        self.counters.messages(messages.len());
        if self.learning.is_some()
            && let Some(kind) = learned(messages)
            && let Some(target) = self.learning.take()
        {
            let request = Request::MidiMap {
                control: MidiControl::from(kind),
                target: target.clone(),
                pickup: false,
                feedback: true,
            };
            match self.handle.request_blocking(request, "midi") {
                Ok(_) => tracing::info!(target: "troubadour::midi", "learned: {kind:?} → {target}"),
                Err(e) => {
                    tracing::warn!(target: "troubadour::midi", "learn {target}: {}", e.message)
                }
            }
            return;
        }
        let effects: Vec<Effect> = messages
            .iter()
            .flat_map(|m| self.mapper.input(*m))
            .collect();
        // Of a binding's sets in one read, only the last matters (a fast sweep).
        let last = |i: usize| match &effects[i] {
            Effect::Set { binding, .. } => !effects[i + 1..]
                .iter()
                .any(|e| matches!(e, Effect::Set { binding: b, .. } if b == binding)),
            _ => true,
        };
        let mut replies = Vec::new();
        for (i, effect) in effects.iter().enumerate() {
            if !last(i) {
                self.counters.coalesced();
                continue;
            }
            match effect {
                Effect::Set {
                    binding,
                    path,
                    value,
                } => {
                    let request = Request::Set {
                        path: path.clone(),
                        value: value.clone(),
                    };
                    replies.push(self.handle.request_blocking(request, &origin(*binding)));
                }
                Effect::Macro(name) => {
                    let request = Request::MacroRun { name: name.clone() };
                    replies.push(self.handle.request_blocking(request, "midi"));
                }
                Effect::Send(bytes) => self.send(&[*bytes]),
            }
        }
        for reply in replies {
            match reply {
                Ok(_) => self.counters.applied(),
                Err(e) => {
                    self.counters.refused();
                    tracing::debug!(target: "troubadour::midi", "refused: {}", e.message);
                }
            }
        }
    }

    /// Changes heard: bound values follow and feedback goes out; the mappings are bound
    /// again when the structure or the mappings change; a learn request is taken up.
    fn forward_events(&mut self) {
        let mut reload = false;
        let mut feedback = Vec::new();
        loop {
            let event = match self.events.try_recv() {
                Ok(Some(e)) => e,
                Ok(None) => {
                    reload = true;
                    continue;
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            };
            let Ok(object) = serde_json::from_str::<Value>(&event.json) else {
                continue;
            };
            match object["event"].as_str() {
                Some("changed") => {
                    if let (Some(path), Some(origin)) =
                        (object["path"].as_str(), object["origin"].as_str())
                    {
                        feedback.extend(self.mapper.changed(path, &object["value"], origin));
                    }
                }
                Some("player") => {
                    // A note mapped to `…/player/playing` toggles from where it is.
                    if let Some(strip) = object["strip"].as_str() {
                        let path = format!("strip/{strip}/player/playing");
                        feedback.extend(self.mapper.follow(&path, &object["playing"]));
                    }
                }
                Some("structure_changed" | "midi_changed") => reload = true,
                Some("midi_learn") => {
                    self.learning = object["path"].as_str().map(str::to_string);
                }
                _ => {}
            }
        }
        if reload {
            self.reload();
        }
        self.send(&feedback);
    }

    /// Binds the mappings of the session as it is now.
    fn reload(&mut self) {
        let Some(session) = self.session() else {
            return;
        };
        let (mapper, warnings) = Mapper::new(&session);
        for w in warnings {
            tracing::warn!(target: "troubadour::midi", "{w}; that mapping is off");
        }
        self.counters.set_bindings(mapper.bindings().len());
        self.mapper = mapper;
    }

    fn session(&self) -> Option<Session> {
        let Ok(Reply::State { state, .. }) = self.handle.request_blocking(Request::State, "midi")
        else {
            return None;
        };
        json_to_toml(&state)
            .ok()
            .and_then(|t| t.try_into::<Session>().ok())
    }
}
