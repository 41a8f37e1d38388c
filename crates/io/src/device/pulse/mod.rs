//! Virtual devices on a PulseAudio server, for the cpal backend (control thread only).
//!
//! The audio goes through cpal's PulseAudio host like any device's; only the server's
//! objects are made here, as modules, before the streams open:
//!
//! - a strip's `source = { virtual = NAME }` (or an `app =` strip's device): a
//!   `module-null-sink` called `troubadour.<name>` that apps play into; the strip
//!   captures its monitor, `troubadour.<name>.monitor`, through a clock bridge;
//! - a bus's `sink = { virtual = NAME }`: a `module-null-sink` called
//!   `troubadour.<name>.feed` that the bus plays into, and a `module-remap-source`
//!   `troubadour.<name>` over its monitor: the input device apps record from.
//!
//! Modules outlive the client that loaded them (a `kill -9` leaves them loaded, unlike
//! PipeWire's client objects), so each carries `troubadour.pid=<pid>` in its properties
//! and argument. A start unloads those of a dead pid (or reuses them with `persist =
//! true`), refuses those of a live other process, and refuses a device of that name
//! made by another program. A clean stop restores the defaults it changed and unloads
//! what it loaded, except `persist = true` devices.

mod client;
mod routing;

use std::path::Path;

use troubadour_engine::session::{Session, Sink, Source};

use crate::backend::virtual_devices;
pub use client::Client;
use routing::Router;

/// The client name the control connection shows (`pactl list clients`).
const CLIENT: &str = "troubadour (devices)";

/// A module this run loaded or took over.
#[derive(Debug)]
struct Loaded {
    index: u32,
    persist: bool,
}

/// The virtual devices of a session on a PulseAudio server, loaded while this lives.
#[derive(Debug)]
pub struct PulseDevices {
    loaded: Vec<Loaded>,
    /// Defaults before ours took over: (sink, source), each `Some` only if we changed it.
    previous_sink: Option<String>,
    previous_source: Option<String>,
    /// Our devices made default, to restore only if they still are.
    our_sink: Option<String>,
    our_source: Option<String>,
    router: Option<Router>,
    /// Lines for the start's report.
    pub notes: Vec<String>,
}

/// Pulse channel positions for `channels` channels (the standard layouts, then aux).
fn channel_map(channels: u16) -> String {
    let list: &[&str] = match channels {
        1 => &["mono"],
        2 => &["front-left", "front-right"],
        3 => &["front-left", "front-right", "lfe"],
        4 => &["front-left", "front-right", "rear-left", "rear-right"],
        5 => &[
            "front-left",
            "front-right",
            "front-center",
            "rear-left",
            "rear-right",
        ],
        6 => &[
            "front-left",
            "front-right",
            "front-center",
            "lfe",
            "rear-left",
            "rear-right",
        ],
        7 => &[
            "front-left",
            "front-right",
            "front-center",
            "lfe",
            "side-left",
            "side-right",
            "rear-center",
        ],
        8 => &[
            "front-left",
            "front-right",
            "front-center",
            "lfe",
            "rear-left",
            "rear-right",
            "side-left",
            "side-right",
        ],
        n => {
            return (0..n)
                .map(|k| format!("aux{k}"))
                .collect::<Vec<_>>()
                .join(",");
        }
    };
    list.join(",")
}

/// A description as it goes inside `'device.description="…"'`: every backslash and
/// quote escaped by a backslash. PulseAudio's module-argument parser lets `\'` stand
/// inside the single quotes and leaves the backslashes in; the property-list parser then
/// turns each `\x` into `x` (checked on PulseAudio 16.1 with `Guest's "mic" back\slash
/// end\`, which comes back whole).
fn description(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if matches!(c, '"' | '\'' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One module to load: its name, the device name it makes (`sink_name` or
/// `source_name`), and its argument (device name first, then our pid stamp).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    module: &'static str,
    key: &'static str,
    device: String,
    argument: String,
    persist: bool,
}

impl Wanted {
    fn stamped(&self, pid: u32) -> String {
        self.argument.replace("{pid}", &pid.to_string())
    }
}

/// The modules a session's virtual devices need, in load order (a remap source after
/// its master), with `{pid}` where the owner's pid goes.
fn wanted(session: &Session) -> Vec<Wanted> {
    let mut out = Vec::new();
    for d in virtual_devices(session) {
        let common = format!(
            "rate={} format=float32le channels={} channel_map={}",
            session.sample_rate,
            d.channels,
            channel_map(d.channels)
        );
        let props = |desc: &str| format!("'device.description=\"{desc}\" troubadour.pid={{pid}}'");
        let desc = description(&d.name);
        if d.media_class == "Audio/Sink" {
            out.push(Wanted {
                module: "module-null-sink",
                key: "sink_name",
                device: d.node_name.clone(),
                argument: format!(
                    "sink_name={} sink_properties={} {common}",
                    d.node_name,
                    props(&desc)
                ),
                persist: d.persist,
            });
        } else {
            let feed = format!("{}.feed", d.node_name);
            out.push(Wanted {
                module: "module-null-sink",
                key: "sink_name",
                device: feed.clone(),
                argument: format!(
                    "sink_name={feed} sink_properties={} {common}",
                    props(&format!("{desc} (mixer feed)"))
                ),
                persist: d.persist,
            });
            out.push(Wanted {
                module: "module-remap-source",
                key: "source_name",
                device: d.node_name.clone(),
                argument: format!(
                    "source_name={} master={feed}.monitor source_properties={} {common}",
                    d.node_name,
                    props(&desc)
                ),
                persist: d.persist,
            });
        }
    }
    out
}

/// The session as the cpal backend opens it: each virtual strip takes its null sink's
/// monitor, each virtual bus plays into its feed sink.
pub fn on_devices(session: &Session) -> Session {
    let mut s = session.clone();
    for strip in &mut s.strips {
        let node = match &strip.source {
            Source::Virtual(v) => troubadour_engine::session::virtual_node_name(&v.name),
            Source::App(_) => troubadour_engine::session::virtual_node_name(&strip.name),
            _ => continue,
        };
        strip.source = Source::Device(format!("{node}.monitor"));
    }
    for bus in &mut s.buses {
        if let Some(Sink::Virtual { name, .. }) = &bus.sink {
            let node = troubadour_engine::session::virtual_node_name(name);
            bus.sink = Some(Sink::Device(format!("{node}.feed")));
        }
    }
    s
}

/// The pid stamped in a module's argument.
fn stamp(argument: &str) -> Option<u32> {
    let at = argument.find("troubadour.pid=")? + "troubadour.pid=".len();
    let digits: String = argument[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// What a start does with one wanted module, given the modules loaded.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// Load it (after unloading these stale ones of dead runs).
    Load { stale: Vec<u32> },
    /// Take over this one (a persistent device of an earlier run).
    Reuse(u32),
}

fn plan(
    w: &Wanted,
    modules: &[client::Module],
    me: u32,
    alive: impl Fn(u32) -> bool,
) -> Result<Plan, String> {
    let token = format!("{}={}", w.key, w.device);
    let mut stale = Vec::new();
    for m in modules
        .iter()
        .filter(|m| m.argument.split_whitespace().any(|t| t == token))
    {
        match stamp(&m.argument) {
            None => {
                return Err(format!(
                    "the PulseAudio server already has a device \"{}\" made by another program (module {} {}): rename the virtual device",
                    w.device, m.index, m.name
                ));
            }
            Some(pid) if pid != me && alive(pid) => {
                return Err(format!(
                    "the virtual device \"{}\" belongs to another running Troubadour (pid {pid}, module {}): stop it or rename the device",
                    w.device, m.index
                ));
            }
            Some(pid) => {
                if w.persist && m.name == w.module && m.argument == w.stamped(pid) {
                    return Ok(Plan::Reuse(m.index));
                }
                stale.push(m.index);
            }
        }
    }
    Ok(Plan::Load { stale })
}

/// For `troubadour check` on a PulseAudio server: the session's virtual devices whose
/// name a device of another program already has (one line each), or why the server
/// cannot be asked. A Troubadour's own modules (of a running, killed or persisted run)
/// are no clash here; `run` decides about those.
pub fn clashes(session: &Session) -> Result<Vec<String>, String> {
    let wanted = wanted(session);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut c = Client::connect("troubadour (check)")?;
    let modules = c.modules()?;
    let sinks = c.sinks()?;
    let mut found = Vec::new();
    for w in &wanted {
        // No pid is alive here: every stamped module is one `run` would reuse or unload.
        if let Err(e) = plan(w, &modules, 0, |_| false) {
            found.push(e);
            continue;
        }
        let token = format!("{}={}", w.key, w.device);
        let ours = modules.iter().any(|m| {
            stamp(&m.argument).is_some() && m.argument.split_whitespace().any(|t| t == token)
        });
        if w.key == "sink_name" && !ours && sinks.iter().any(|(_, n)| *n == w.device) {
            found.push(format!(
                "the PulseAudio server already has a sink \"{}\" made by another program: rename the virtual device",
                w.device
            ));
        }
    }
    Ok(found)
}

impl PulseDevices {
    /// Loads (or takes over) the modules for `session`'s virtual devices, makes those
    /// with `default = true` the defaults and starts moving `app =` strips' streams.
    /// Fails, unloading what it loaded, if a device cannot be made.
    pub fn start(session: &Session) -> Result<PulseDevices, String> {
        let mut c = Client::connect(CLIENT)?;
        let me = std::process::id();
        // Dropped on an error: what was loaded so far is unloaded again.
        let mut devices = PulseDevices {
            loaded: Vec::new(),
            previous_sink: None,
            previous_source: None,
            our_sink: None,
            our_source: None,
            router: None,
            notes: Vec::new(),
        };
        // Every device decided on one listing before anything changes; stale modules
        // unloaded in reverse order (a remap source before its master sink, which
        // would otherwise take the remap source with it).
        let modules = c.modules()?;
        let plans = wanted(session)
            .into_iter()
            .map(|w| plan(&w, &modules, me, alive).map(|p| (w, p)))
            .collect::<Result<Vec<_>, String>>()?;
        for (w, p) in plans.iter().rev() {
            let Plan::Load { stale } = p else { continue };
            for &index in stale {
                c.unload_module(index)?;
                devices.notes.push(format!(
                    "virtual: unloaded module {index} (\"{}\"), left by a run that ended without cleaning up",
                    w.device
                ));
            }
        }
        let sinks = c.sinks()?;
        for (w, p) in plans {
            match p {
                Plan::Reuse(index) => {
                    devices.notes.push(format!(
                        "virtual: \"{}\" reused (module {index}, left by an earlier run with persist = true)",
                        w.device
                    ));
                    devices.loaded.push(Loaded {
                        index,
                        persist: true,
                    });
                }
                Plan::Load { .. } => {
                    if w.key == "sink_name" && sinks.iter().any(|(_, n)| *n == w.device) {
                        return Err(format!(
                            "the PulseAudio server already has a sink \"{}\" made by another program: rename the virtual device",
                            w.device
                        ));
                    }
                    let index = c.load_module(w.module, &w.stamped(me))?;
                    devices.loaded.push(Loaded {
                        index,
                        persist: w.persist,
                    });
                }
            }
        }
        devices.take_defaults(&mut c, session)?;
        if let Some((router, moved)) = Router::start(session)? {
            devices.notes.push(format!(
                "virtual: app routing on; {moved} playing stream(s) moved onto their strips"
            ));
            devices.router = Some(router);
        }
        Ok(devices)
    }

    fn take_defaults(&mut self, c: &mut Client, session: &Session) -> Result<(), String> {
        let (sink, source) = c.defaults()?;
        for d in virtual_devices(session).into_iter().filter(|d| d.default) {
            if d.media_class == "Audio/Sink" {
                c.set_default_sink(&d.node_name)?;
                // A killed run's device as the default is no earlier choice to restore.
                self.previous_sink = sink.clone().filter(|s| !s.starts_with("troubadour."));
                self.our_sink = Some(d.node_name);
            } else {
                c.set_default_source(&d.node_name)?;
                self.previous_source = source.clone().filter(|s| !s.starts_with("troubadour."));
                self.our_source = Some(d.node_name);
            }
        }
        Ok(())
    }

    /// Restores the defaults (where they are still ours) and unloads what this run
    /// loaded, except persistent devices. Errors are returned as lines to tell.
    fn stop(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(router) = self.router.take() {
            router.stop();
        }
        let mut c = match Client::connect(CLIENT) {
            Ok(c) => c,
            Err(e) => return vec![format!("virtual devices not removed: {e}")],
        };
        if let Ok((sink, source)) = c.defaults() {
            if let (Some(ours), Some(prev)) = (&self.our_sink, &self.previous_sink)
                && sink.as_ref() == Some(ours)
                && let Err(e) = c.set_default_sink(prev)
            {
                notes.push(format!("the default sink \"{prev}\" not restored: {e}"));
            }
            if let (Some(ours), Some(prev)) = (&self.our_source, &self.previous_source)
                && source.as_ref() == Some(ours)
                && let Err(e) = c.set_default_source(prev)
            {
                notes.push(format!("the default source \"{prev}\" not restored: {e}"));
            }
        }
        // A remap source goes before its master sink: unload in reverse order.
        for l in self.loaded.drain(..).rev().filter(|l| !l.persist) {
            if let Err(e) = c.unload_module(l.index) {
                notes.push(format!("module {} not unloaded: {e}", l.index));
            }
        }
        notes
    }
}

impl Drop for PulseDevices {
    fn drop(&mut self) {
        // Drop has nobody to tell; a failure leaves modules that the next start, seeing
        // this pid dead, unloads.
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use client::Module;
    use troubadour_engine::session::VirtualSource;

    fn session() -> Session {
        let mut s = Session::default_session();
        s.strips[0].source = Source::Virtual(VirtualSource::named("Browser"));
        s.buses[0].sink = Some(Sink::Virtual {
            name: "Stream mix".into(),
            default: false,
            persist: false,
        });
        s
    }

    #[test]
    fn a_strip_gets_a_null_sink_and_a_bus_a_feed_and_a_remapped_source() {
        let w = wanted(&session());
        let names: Vec<_> = w.iter().map(|w| (w.module, w.device.as_str())).collect();
        assert_eq!(
            names,
            [
                ("module-null-sink", "troubadour.browser"),
                ("module-null-sink", "troubadour.stream_mix.feed"),
                ("module-remap-source", "troubadour.stream_mix"),
            ]
        );
        assert!(
            w[2].argument
                .contains("master=troubadour.stream_mix.feed.monitor")
        );
        assert!(w[0].stamped(42).contains("troubadour.pid=42'"));
        let s = on_devices(&session());
        assert_eq!(
            s.strips[0].source,
            Source::Device("troubadour.browser.monitor".into())
        );
        assert_eq!(
            s.buses[0].sink,
            Some(Sink::Device("troubadour.stream_mix.feed".into()))
        );
    }

    #[test]
    fn stale_modules_of_dead_runs_go_and_live_or_foreign_ones_refuse() {
        let w = &wanted(&session())[0];
        let module = |index, argument: String| Module {
            index,
            name: "module-null-sink".into(),
            argument,
        };
        let dead = module(7, w.stamped(100));
        assert_eq!(
            plan(w, std::slice::from_ref(&dead), 1, |_| false),
            Ok(Plan::Load { stale: vec![7] })
        );
        let live = plan(w, std::slice::from_ref(&dead), 1, |p| p == 100).unwrap_err();
        assert!(live.contains("pid 100"), "{live}");
        let foreign = plan(
            w,
            &[module(3, "sink_name=troubadour.browser".into())],
            1,
            |_| false,
        )
        .unwrap_err();
        assert!(foreign.contains("another program"), "{foreign}");
        let mut persistent = w.clone();
        persistent.persist = true;
        let kept = module(9, persistent.stamped(100));
        assert_eq!(plan(&persistent, &[kept], 1, |_| false), Ok(Plan::Reuse(9)));
        // A persistent device the session now wants with another channel count (or
        // rate) is made again, not reused as it was.
        let mut mono = session();
        mono.strips[0].channels = 1;
        let mut mono = wanted(&mono)[0].clone();
        mono.persist = true;
        let stereo = module(9, persistent.stamped(100));
        assert_eq!(
            plan(&mono, &[stereo], 1, |_| false),
            Ok(Plan::Load { stale: vec![9] })
        );
        // A name that only starts the same is another device.
        let other = module(4, "sink_name=troubadour.browser2 troubadour.pid=5".into());
        assert_eq!(
            plan(w, &[other], 1, |_| true),
            Ok(Plan::Load { stale: vec![] })
        );
    }

    #[test]
    fn channel_maps_have_one_position_a_channel() {
        for n in 1..=10 {
            assert_eq!(channel_map(n).split(',').count(), usize::from(n));
        }
    }
}
