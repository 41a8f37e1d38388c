//! The control side: owns the session, validates every change, and tells the audio side
//! through lock-free queues.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use troubadour_dsp::gain::db_to_gain;
use troubadour_dsp::simd::KernelChoice;
use troubadour_rt::exchange::ExchangeControl;
use troubadour_rt::ring::Producer;

use crate::command::{Command, Tagged};
use crate::diff::{parameter_changes, send_command, structure_equal};
use crate::engine::Engine;
use crate::graph::{BuildError, Graph};
use crate::meter_tap::{MeterSnapshot, MeterTap, MeterView};
use crate::player::{FileOptions, Player};
use crate::recorder::RecorderControl;
use crate::session::{
    self, BusSend, FADER_MAX_DB, LoadedSession, Session, SessionError, TRIM_RANGE_DB,
};
use crate::spectrum::SpectrumBank;
use crate::stats::{EngineStats, StatsSnapshot};

/// How the engine is set up beyond what the session says.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Largest sub-block `process` runs at once; the session's `block_frames` if `None`.
    /// A host that always calls with one buffer size can pass it to avoid splitting.
    pub max_block_frames: Option<usize>,
    /// Slots of the command queue: how many parameter changes may wait for the next
    /// audio callback.
    pub command_capacity: usize,
    /// Which instruction sets the mixing loops and processors may use: by default the
    /// best the CPU has.
    pub kernels: KernelChoice,
    /// A live mixer's leniency: a file source that is not there leaves its strip silent
    /// (see [`Controller::missing_files`]) instead of refusing the session.
    pub silent_missing_files: bool,
    /// Seconds of audio each file player reads ahead into its ring: what a live mixer
    /// rides out a slow disk with. An offline render, which waits for its readers,
    /// needs only enough for the readers' large reads ([`RENDER_RING_SECONDS`](crate::RENDER_RING_SECONDS)).
    pub player_ring_seconds: f64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_block_frames: None,
            command_capacity: 1024,
            kernels: KernelChoice::Best,
            silent_missing_files: false,
            player_ring_seconds: crate::player::RING_SECONDS,
        }
    }
}

/// Why a control request was refused. Nothing changed when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No strip has that name.
    #[error("no strip is called {0:?}")]
    UnknownStrip(String),
    /// No bus has that name.
    #[error("no bus is called {0:?}")]
    UnknownBus(String),
    /// The strip has no send to that bus (adding one is a session change).
    #[error("strip {strip:?} has no send to bus {bus:?}")]
    UnknownSend {
        /// Strip name.
        strip: String,
        /// Bus name.
        bus: String,
    },
    /// A value outside its range.
    #[error("{field}: {value} is outside {min}..={max}")]
    OutOfRange {
        /// What was set.
        field: &'static str,
        /// The value given.
        value: f32,
        /// Lowest allowed.
        min: f32,
        /// Highest allowed.
        max: f32,
    },
    /// The command queue is full: the audio thread has not run for a while, or changes
    /// come faster than it drains them. Retry after a block.
    #[error("the command queue is full ({0} commands wait for the audio thread); try again")]
    QueueFull(usize),
    /// A structural change is still waiting to be swapped in.
    #[error(
        "a previous structural change has not been taken up by the audio thread yet; try again"
    )]
    GraphPending,
    /// The new session is invalid.
    #[error(transparent)]
    Invalid(#[from] SessionError),
    /// The new session could not be compiled (e.g. a file source failed to load).
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// What [`Controller::apply_session`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The new session equals the running one.
    Unchanged,
    /// Only parameters changed: this many commands were sent; they glide.
    Parameters(usize),
    /// The structure changed: a new graph was built and sent to be swapped in.
    Rebuilt,
}

/// The mixer's control side: the session's owner and the only way to change the
/// running engine. Not real-time: call it from any one non-audio thread.
#[derive(Debug)]
pub struct Controller {
    session: Session,
    path: PathBuf,
    base_dir: PathBuf,
    max_block: usize,
    kernels: KernelChoice,
    silent_missing_files: bool,
    player_ring_seconds: f64,
    /// No engine listens (its backend went away): changes update the session only, and
    /// the next [`respawn`](Controller::respawn) builds from it.
    parked: bool,
    generation: u32,
    commands: Producer<Tagged>,
    graphs: ExchangeControl<Box<Graph>>,
    recorder: RecorderControl,
    /// The second recorder, for the buses' file sinks while `run` runs.
    sink_recorder: RecorderControl,
    /// The spectrum taps; kept across engines.
    spectrum: Arc<SpectrumBank>,
    command_capacity: usize,
    /// The meters of the graph the engine runs, for any thread to read.
    meters: MeterTap,
    stats: Arc<EngineStats>,
    /// Each strip's file player (in the session's strip order), following the running
    /// stream through graph swaps: a carried strip keeps the handle of the stream it
    /// carries on.
    players: Vec<Option<Player>>,
}

/// Compiles `loaded` and returns the two halves of a running mixer: the [`Controller`]
/// for the control thread and the [`Engine`] for the audio thread.
///
/// ```
/// use troubadour_engine::{create, session, EngineOptions};
///
/// let text = "version = 1\n[[strip]]\nname = \"Tone\"\nsource = { generator = \"sine\" }\nsends = { A1 = {} }\n[[bus]]\nname = \"A1\"\n";
/// let loaded = session::parse(text, "demo.toml".as_ref()).unwrap();
/// let (mut control, mut engine) = create(&loaded, &EngineOptions::default()).unwrap();
///
/// let (mut left, mut right) = (vec![0.0; 512], vec![0.0; 512]);
/// engine.process(&[], &mut [&mut left, &mut right], 512);
/// assert!(left.iter().any(|&x| x != 0.0));
///
/// control.set_strip_mute("Tone", true).unwrap();
/// assert!(control.set_strip_fader("Tone", 20.0).is_err()); // above +12 dB
/// ```
pub fn create(
    loaded: &LoadedSession,
    options: &EngineOptions,
) -> Result<(Controller, Engine), BuildError> {
    // `LoadedSession`'s fields are public, so it may not have come through `load`.
    validate(
        &loaded.session,
        &loaded.path,
        &loaded.base_dir,
        options.silent_missing_files,
    )?;
    let max_block = options
        .max_block_frames
        .unwrap_or(loaded.session.block_frames as usize);
    let graph = Box::new(Graph::build_with(
        &loaded.session,
        &loaded.base_dir,
        max_block,
        0,
        options.kernels,
        FileOptions {
            silent_missing: options.silent_missing_files,
            ring_seconds: options.player_ring_seconds,
        },
    )?);
    let players = graph.players();
    let stats = Arc::new(EngineStats::default());
    let meters = MeterTap::new(
        MeterView::new(Arc::clone(graph.meters()), &loaded.session),
        Arc::clone(&stats),
    );
    let spectrum = SpectrumBank::new();
    let (commands, graphs, recorder, sink_recorder, engine) =
        Engine::pair(graph, options.command_capacity, &stats, &spectrum);
    let controller = Controller {
        session: loaded.session.clone(),
        path: loaded.path.clone(),
        base_dir: loaded.base_dir.clone(),
        max_block,
        kernels: options.kernels,
        silent_missing_files: options.silent_missing_files,
        player_ring_seconds: options.player_ring_seconds,
        parked: false,
        generation: 0,
        commands,
        graphs,
        recorder,
        sink_recorder,
        spectrum,
        command_capacity: options.command_capacity,
        meters,
        stats,
        players,
    };
    Ok((controller, engine))
}

/// Validates strictly, or as a live mixer does (a missing file source is a warning).
fn validate(
    session: &Session,
    path: &Path,
    base_dir: &Path,
    live: bool,
) -> Result<(), SessionError> {
    if live {
        session::validate_live(session, path, base_dir)?;
    } else {
        session::validate(session, path, base_dir)?;
    }
    Ok(())
}

fn check_range(field: &'static str, value: f32, min: f32, max: f32) -> Result<(), ControlError> {
    if value.is_nan() || value < min || value > max {
        Err(ControlError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    } else {
        Ok(())
    }
}

impl Controller {
    /// The engine's recorder: start, pause and stop takes (see [`crate::recorder`]).
    pub fn recorder(&mut self) -> &mut RecorderControl {
        &mut self.recorder
    }

    /// The engine's second recorder, which records the buses' `sink = { file = … }`
    /// while `run` runs (the host starts it; its tracks are bus taps only, never paused).
    pub fn sink_recorder(&mut self) -> &mut RecorderControl {
        &mut self.sink_recorder
    }

    /// The engine's spectrum taps (see [`crate::spectrum`]): the same bank across
    /// every engine this controller respawns.
    pub fn spectrum(&self) -> &Arc<SpectrumBank> {
        &self.spectrum
    }

    /// The session as the engine now has it (or will, once pending changes arrive).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The meters of the graph the engine runs, for readers on other threads: the same
    /// tap across every graph swap and every engine this controller respawns.
    pub fn meter_tap(&self) -> &MeterTap {
        &self.meters
    }

    /// Engine counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Reads every meter of the running graph; peaks reset to start a new hold period.
    pub fn read_meters(&self) -> MeterSnapshot {
        self.meters.read()
    }

    /// Frees graphs the engine has swapped out (and their decoded files). Every method
    /// that changes something calls it; call it on a timer too, since a swap can happen
    /// while the controller is idle. Returns how many were freed.
    pub fn collect_garbage(&mut self) -> usize {
        self.meters.settle();
        self.graphs.collect()
    }

    /// A new engine for the same session at `sample_rate` (a backend that restarted, or
    /// came back at another rate or period): a new graph, with fresh queues, replaces
    /// the old engine, which must be gone or about to be dropped (commands still queued
    /// for it are lost; the session here already holds their values). The controller,
    /// its session and its counters stay: whoever holds this controller keeps a valid
    /// handle across every restart of the audio side.
    pub fn respawn(
        &mut self,
        sample_rate: u32,
        max_block_frames: usize,
    ) -> Result<Engine, BuildError> {
        let mut session = self.session.clone();
        session.sample_rate = sample_rate;
        let max_block = max_block_frames.max(session.block_frames as usize);
        let generation = self.generation.wrapping_add(1);
        let graph = self.build(&session, max_block, generation)?;
        let meters = MeterView::new(Arc::clone(graph.meters()), &session);
        // New streams for the new engine, where the old ones were: same transport.
        let players = graph.players();
        for (new, old) in players.iter().zip(&self.players) {
            if let (Some(new), Some(old)) = (new, old) {
                let state = old.state();
                new.seek_s(state.position_s);
                new.set_playing(state.playing);
            }
        }
        self.players = players;
        let (commands, graphs, recorder, sink_recorder, engine) =
            Engine::pair(graph, self.command_capacity, &self.stats, &self.spectrum);
        self.commands = commands;
        self.graphs = graphs;
        // A take of the old engine ends with it (its rings went with the engine).
        self.recorder = recorder;
        self.sink_recorder = sink_recorder;
        self.generation = generation;
        self.max_block = max_block;
        self.meters.replace(meters);
        self.session = session;
        self.parked = false;
        Ok(engine)
    }

    /// The engine is gone (its backend was lost or stopped): from now on, changes are
    /// validated and kept in the session (nothing waits in a queue no engine drains),
    /// until [`respawn`](Self::respawn) builds the next engine from it.
    pub fn park(&mut self) {
        self.parked = true;
        self.meters.unpend();
    }

    /// Whether a structural change is still waiting for the audio thread to take it.
    pub fn graph_pending(&mut self) -> bool {
        !self.parked && self.graphs.in_flight() > 0
    }

    /// The strips whose file source is not there (with the path looked for), playing
    /// silence until it appears. Always empty unless the controller was created with
    /// [`EngineOptions::silent_missing_files`].
    pub fn missing_files(&self) -> Vec<(String, PathBuf)> {
        if !self.silent_missing_files {
            return Vec::new();
        }
        self.session
            .strips
            .iter()
            .filter_map(|s| match &s.source {
                session::Source::File { path, .. } => {
                    let full = self.base_dir.join(path);
                    (!full.exists()).then(|| (s.name.clone(), full))
                }
                _ => None,
            })
            .collect()
    }

    /// Builds the running session's graph again and sends it to be swapped in (state
    /// carried over): a file that has appeared is read and played. Nothing else changes.
    pub fn rebuild(&mut self) -> Result<(), ControlError> {
        self.collect_garbage();
        let session = self.session.clone();
        self.swap_in(session)
    }

    fn send(&mut self, command: Command) -> Result<(), ControlError> {
        self.collect_garbage();
        if self.parked {
            // The caller updates the session; the next engine is built from it.
            return Ok(());
        }
        self.commands
            .push(Tagged {
                generation: self.generation,
                command,
            })
            .map_err(|_| ControlError::QueueFull(self.commands.capacity()))
    }

    fn strip_index(&self, name: &str) -> Result<usize, ControlError> {
        self.session
            .strip_index(name)
            .ok_or_else(|| ControlError::UnknownStrip(name.into()))
    }

    fn bus_index(&self, name: &str) -> Result<usize, ControlError> {
        self.session
            .bus_index(name)
            .ok_or_else(|| ControlError::UnknownBus(name.into()))
    }

    /// Sets a strip's input trim (dB).
    pub fn set_strip_trim(&mut self, strip: &str, db: f32) -> Result<(), ControlError> {
        let i = self.strip_index(strip)?;
        check_range("gain_db", db, TRIM_RANGE_DB.0, TRIM_RANGE_DB.1)?;
        self.send(Command::StripTrim {
            strip: i as u32,
            gain: db_to_gain(db),
        })?;
        self.session.strips[i].gain_db = db;
        Ok(())
    }

    /// Sets a strip's fader (dB, `-inf` for off, at most +12).
    pub fn set_strip_fader(&mut self, strip: &str, db: f32) -> Result<(), ControlError> {
        let i = self.strip_index(strip)?;
        check_range("fader_db", db, f32::NEG_INFINITY, FADER_MAX_DB)?;
        self.send(Command::StripFader {
            strip: i as u32,
            gain: db_to_gain(db),
        })?;
        self.session.strips[i].fader_db = db;
        Ok(())
    }

    /// Sets a strip's pan (mono) or balance (stereo), -1..=1.
    pub fn set_strip_pan(&mut self, strip: &str, pan: f32) -> Result<(), ControlError> {
        let i = self.strip_index(strip)?;
        check_range("pan", pan, -1.0, 1.0)?;
        self.send(Command::StripPan {
            strip: i as u32,
            pan,
        })?;
        self.session.strips[i].pan = pan;
        Ok(())
    }

    /// Mutes or unmutes a strip (on every bus, pre- and post-fader sends alike).
    pub fn set_strip_mute(&mut self, strip: &str, mute: bool) -> Result<(), ControlError> {
        let i = self.strip_index(strip)?;
        self.send(Command::StripMute {
            strip: i as u32,
            on: mute,
        })?;
        self.session.strips[i].mute = mute;
        Ok(())
    }

    /// Solos a strip in place (while any strip is soloed, the others are silent).
    pub fn set_strip_solo(&mut self, strip: &str, solo: bool) -> Result<(), ControlError> {
        let i = self.strip_index(strip)?;
        self.send(Command::StripSolo {
            strip: i as u32,
            on: solo,
        })?;
        self.session.strips[i].solo = solo;
        Ok(())
    }

    /// Changes an existing send's level, on/off state and tap point.
    pub fn set_send(&mut self, strip: &str, bus: &str, send: BusSend) -> Result<(), ControlError> {
        let i = self.strip_index(strip)?;
        let b = self.bus_index(bus)?;
        if !self.session.strips[i].sends.contains_key(bus) {
            return Err(ControlError::UnknownSend {
                strip: strip.into(),
                bus: bus.into(),
            });
        }
        check_range("level_db", send.level_db, f32::NEG_INFINITY, FADER_MAX_DB)?;
        self.send(send_command(i as u32, b as u32, &send))?;
        self.session.strips[i].sends.insert(bus.to_string(), send);
        Ok(())
    }

    /// Sets a bus fader (dB).
    pub fn set_bus_fader(&mut self, bus: &str, db: f32) -> Result<(), ControlError> {
        let b = self.bus_index(bus)?;
        check_range("fader_db", db, f32::NEG_INFINITY, FADER_MAX_DB)?;
        self.send(Command::BusFader {
            bus: b as u32,
            gain: db_to_gain(db),
        })?;
        self.session.buses[b].fader_db = db;
        Ok(())
    }

    /// Mutes or unmutes a bus.
    pub fn set_bus_mute(&mut self, bus: &str, mute: bool) -> Result<(), ControlError> {
        let b = self.bus_index(bus)?;
        self.send(Command::BusMute {
            bus: b as u32,
            on: mute,
        })?;
        self.session.buses[b].mute = mute;
        Ok(())
    }

    /// Makes the engine run `new`: validated first (an invalid session changes nothing);
    /// parameter differences are sent as commands that glide; a structural difference
    /// builds a new graph here and sends it to be swapped in between two blocks, with
    /// unchanged strips and buses carrying their state over.
    pub fn apply_session(&mut self, new: Session) -> Result<Applied, ControlError> {
        self.collect_garbage();
        validate(&new, &self.path, &self.base_dir, self.silent_missing_files)?;
        if new == self.session {
            return Ok(Applied::Unchanged);
        }
        if structure_equal(&self.session, &new) {
            let n = self.send_changes(&new)?;
            self.session = new;
            self.sync_loops();
            return Ok(Applied::Parameters(n));
        }
        self.swap_in(new)?;
        Ok(Applied::Rebuilt)
    }

    /// Sends the commands that take the running parameters to `new`'s (all or none:
    /// a queue without room for all of them refuses); returns how many.
    fn send_changes(&mut self, new: &Session) -> Result<usize, ControlError> {
        let changes = parameter_changes(&self.session, new);
        if self.parked {
            return Ok(changes.len());
        }
        if self.commands.free() < changes.len() {
            return Err(ControlError::QueueFull(self.commands.capacity()));
        }
        for command in &changes {
            // Cannot fail: room for all was checked and only we push.
            let _ = self.commands.push(Tagged {
                generation: self.generation,
                command: *command,
            });
        }
        Ok(changes.len())
    }

    /// [`apply_session`](Self::apply_session) for a change of parameter values only,
    /// each of which the caller has checked against its field's range (the control
    /// API's namespace does, field by field): the whole session is not validated again,
    /// which is most of a change's cost. `Ok(None)`, with nothing changed, when `new`'s
    /// structure is not the running one's: apply it with `apply_session`.
    pub fn apply_parameters(&mut self, new: &Session) -> Result<Option<Applied>, ControlError> {
        self.collect_garbage();
        if !structure_equal(&self.session, new) {
            return Ok(None);
        }
        debug_assert!(
            validate(new, &self.path, &self.base_dir, true).is_ok(),
            "apply_parameters was given values outside their ranges"
        );
        let n = self.send_changes(new)?;
        self.session.clone_from(new);
        self.sync_loops();
        Ok(Some(Applied::Parameters(n)))
    }

    /// Compiles `session` as this controller's engine runs it (kernels, leniency).
    fn build(
        &self,
        session: &Session,
        max_block: usize,
        generation: u32,
    ) -> Result<Box<Graph>, BuildError> {
        Ok(Box::new(Graph::build_with(
            session,
            &self.base_dir,
            max_block,
            generation,
            self.kernels,
            FileOptions {
                silent_missing: self.silent_missing_files,
                ring_seconds: self.player_ring_seconds,
            },
        )?))
    }

    /// Compiles `new` and sends it to be swapped in between two blocks, with unchanged
    /// strips and buses carrying their state over.
    fn swap_in(&mut self, new: Session) -> Result<(), ControlError> {
        if self.parked {
            // Nothing to swap into; the next engine is built from the session.
            self.session = new;
            return Ok(());
        }
        if self.graphs.is_full() {
            return Err(ControlError::GraphPending);
        }
        let generation = self.generation.wrapping_add(1);
        let max_block = self.max_block.max(new.block_frames as usize);
        let mut graph = self.build(&new, max_block, generation)?;
        graph.carry_over_from(&self.session, &new);
        let meters = MeterView::new(Arc::clone(graph.meters()), &new);
        // A carried strip's stream is the old graph's (swapped in by `continue_from`):
        // its handle stays; a new strip's is its own.
        let players: Vec<Option<Player>> = graph
            .players()
            .into_iter()
            .enumerate()
            .map(|(i, own)| match graph.carried(i) {
                Some(j) => self.players.get(j).cloned().flatten().or(own),
                None => own,
            })
            .collect();
        if self.graphs.send(graph).is_err() {
            return Err(ControlError::GraphPending);
        }
        self.players = players;
        self.generation = generation;
        self.meters.pend(generation, meters);
        self.max_block = max_block;
        self.session = new;
        self.sync_loops();
        Ok(())
    }

    /// The file player of strip `strip` (0-based, session order): `None` if its source
    /// is not a file, or is a file not there yet (playing silence).
    pub fn player(&self, strip: usize) -> Option<&Player> {
        self.players.get(strip).and_then(Option::as_ref)
    }

    /// Gives every file player its strip's `loop` from the session (a live change, no
    /// new stream).
    fn sync_loops(&self) {
        for (strip, player) in self.session.strips.iter().zip(&self.players) {
            if let (session::Source::File { looped, .. }, Some(p)) = (&strip.source, player) {
                p.set_looped(*looped);
            }
        }
    }
}
