//! App routing and default devices, through the session manager's `default` metadata
//! (the object WirePlumber and pipewire-pulse share; `pactl move-sink-input` and
//! `pactl set-default-sink` write the same keys).
//!
//! - `source = { app = PATTERN }`: every playback stream (`Stream/Output/Audio`) whose
//!   `application.name` or `application.process.binary` matches gets `target.object` =
//!   the strip's device's node name on its id. WirePlumber 0.4.13's `policy-node.lua`
//!   reads `target.object` first (then `target.node`), takes a number as an
//!   `object.serial` and anything else as a `node.name`, and relinks the stream when the
//!   key changes. A clean stop removes the keys we set, so the streams follow the
//!   default device again.
//! - `default = true`: `default.configured.audio.sink` (a strip's device) or
//!   `default.configured.audio.source` (a bus's) = `{ "name": NODE }`. The configured
//!   key, not `default.audio.sink`: WirePlumber's default-nodes module recomputes
//!   `default.audio.*` from the configured keys and would overwrite ours. The previous
//!   value is put back at a clean stop. WirePlumber saves the configured key in its state
//!   file, so after a `kill -9` it still names our (gone) node: WirePlumber then falls
//!   back to the best device there is, the user is not left without sound, and the next
//!   start takes the default again; its clean stop removes the key (there is no earlier
//!   choice of the user's left to restore), so the session manager picks by priority.
//!
//! A stream's binary is not in its registry properties: it is read from the bound
//! node's info (pipewire-pulse streams carry it) or its client's (native streams).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use pipewire as pw;
use pw::registry::GlobalObject;
use pw::spa::utils::dict::DictRef;
use pw::types::ObjectType;

/// The metadata keys an app move sets on a stream.
const TARGET_KEY: &str = "target.object";

/// One playback stream.
struct Stream {
    app_name: String,
    client: Option<u32>,
    binary: Option<String>,
    /// The node name we moved it to.
    moved: Option<String>,
    _proxy: pw::node::Node,
    _listener: pw::node::NodeListener,
}

/// One client (for its binary).
struct Client {
    binary: Option<String>,
    _proxy: pw::client::Client,
    _listener: pw::client::ClientListener,
}

/// What the session asks of the router.
struct Plan {
    /// (matcher, device node name, "strip \"Game\"", pattern, streams moved so far).
    apps: Vec<(regex::Regex, String, String, String, usize)>,
    /// (configured key, device node name) to set.
    defaults: Vec<(&'static str, String)>,
    /// Said already that an app pattern matched nothing.
    warned: bool,
    /// Defaults are set (once the metadata's current values are in).
    defaults_set: bool,
    started: std::time::Instant,
}

/// The routing state of one connection.
#[derive(Default)]
pub(crate) struct Router {
    metadata: Option<(pw::metadata::Metadata, pw::metadata::MetadataListener)>,
    /// The `default` metadata's current values on subject 0 (key → (type, value)).
    globals: BTreeMap<String, (Option<String>, String)>,
    /// Streams' `target.object` values now (stream id → value), so a stop leaves alone
    /// a stream the user moved elsewhere meanwhile.
    targets: BTreeMap<u32, String>,
    /// The values we replaced (key → previous (type, value), None if unset).
    saved: BTreeMap<String, Option<(Option<String>, String)>>,
    /// Set once a round trip after binding the metadata came back (its values are in).
    pub(crate) ready: bool,
    streams: BTreeMap<u32, Stream>,
    clients: BTreeMap<u32, Client>,
    /// Every node: id → (node.name, object.path).
    pub(crate) nodes: BTreeMap<u32, (String, String)>,
    plan: Option<Plan>,
    /// Proxies of globals that went away, dropped a while later: dropping a bound proxy
    /// before the server's `remove_id` for it has come in makes libpipewire send a
    /// `destroy` for a resource the server no longer has, which it answers with an
    /// error on the core ("unknown resource"), the very signal of a lost connection.
    graveyard: Vec<(std::time::Instant, Box<dyn std::any::Any>)>,
    /// Lines for the user: (a warning, the line): an app pattern that matched nothing,
    /// the moves and defaults made.
    pub(crate) said: Vec<(bool, String)>,
}

/// Feeds a registry global to the router (nodes, clients, the `default` metadata).
/// Returns true when it bound the metadata (the caller then makes a round trip and sets
/// `ready` when it returns).
pub(crate) fn global(
    router: &Rc<RefCell<Router>>,
    registry: &pw::registry::RegistryRc,
    g: &GlobalObject<&DictRef>,
) -> bool {
    let Some(props) = g.props else { return false };
    let get = |k: &str| props.get(k).map(str::to_string);
    match g.type_ {
        ObjectType::Node => {
            let name = get("node.name").unwrap_or_default();
            let path = get("object.path").unwrap_or_default();
            router.borrow_mut().nodes.insert(g.id, (name, path));
            // Only playback streams, never one of ours.
            if props.get("media.class") != Some("Stream/Output/Audio")
                || props
                    .get("node.name")
                    .is_some_and(|n| n.starts_with("troubadour"))
            {
                return false;
            }
            let Ok(proxy) = registry.bind::<pw::node::Node, _>(g) else {
                return false;
            };
            let id = g.id;
            let weak = Rc::downgrade(router);
            let listener = proxy
                .add_listener_local()
                .info(move |info| {
                    let binary = info
                        .props()
                        .and_then(|p| p.get("application.process.binary"))
                        .map(str::to_string);
                    if let (Some(b), Some(r)) = (binary, weak.upgrade())
                        && let Some(s) = r.borrow_mut().streams.get_mut(&id)
                    {
                        s.binary = Some(b);
                    }
                })
                .register();
            router.borrow_mut().streams.insert(
                g.id,
                Stream {
                    app_name: get("application.name").unwrap_or_default(),
                    client: get("client.id").and_then(|c| c.parse().ok()),
                    binary: None,
                    moved: None,
                    _proxy: proxy,
                    _listener: listener,
                },
            );
        }
        ObjectType::Client => {
            let Ok(proxy) = registry.bind::<pw::client::Client, _>(g) else {
                return false;
            };
            let id = g.id;
            let weak = Rc::downgrade(router);
            let listener = proxy
                .add_listener_local()
                .info(move |info| {
                    let binary = info
                        .props()
                        .and_then(|p| p.get("application.process.binary"))
                        .map(str::to_string);
                    if let (Some(b), Some(r)) = (binary, weak.upgrade())
                        && let Some(c) = r.borrow_mut().clients.get_mut(&id)
                    {
                        c.binary = Some(b);
                    }
                })
                .register();
            router.borrow_mut().clients.insert(
                g.id,
                Client {
                    binary: None,
                    _proxy: proxy,
                    _listener: listener,
                },
            );
        }
        ObjectType::Metadata => {
            if props.get("metadata.name") != Some("default") || router.borrow().metadata.is_some() {
                return false;
            }
            let Ok(proxy) = registry.bind::<pw::metadata::Metadata, _>(g) else {
                return false;
            };
            let weak = Rc::downgrade(router);
            let listener = proxy
                .add_listener_local()
                .property(move |subject, key, type_, value| {
                    let Some(r) = weak.upgrade() else { return 0 };
                    let mut r = r.borrow_mut();
                    match (subject, key, value) {
                        (0, Some(k), Some(v)) => {
                            r.globals
                                .insert(k.into(), (type_.map(str::to_string), v.into()));
                        }
                        (0, Some(k), None) => {
                            r.globals.remove(k);
                        }
                        (0, None, _) => r.globals.clear(),
                        (s, Some(TARGET_KEY), Some(v)) => {
                            r.targets.insert(s, v.into());
                        }
                        (s, Some(TARGET_KEY), None) => {
                            r.targets.remove(&s);
                        }
                        (s, None, _) => {
                            r.targets.remove(&s);
                        }
                        _ => {}
                    }
                    0
                })
                .register();
            let mut r = router.borrow_mut();
            r.metadata = Some((proxy, listener));
            // Its values come before the round trip the caller now makes.
            r.ready = false;
            return true;
        }
        _ => {}
    }
    false
}

/// A global went away.
pub(crate) fn remove(router: &Rc<RefCell<Router>>, id: u32) {
    let mut r = router.borrow_mut();
    r.nodes.remove(&id);
    let now = std::time::Instant::now();
    if let Some(s) = r.streams.remove(&id) {
        r.graveyard.push((now, Box::new(s)));
    }
    if let Some(c) = r.clients.remove(&id) {
        r.graveyard.push((now, Box::new(c)));
    }
    r.targets.remove(&id);
}

impl Router {
    /// Takes the session's app patterns and defaults; they apply from the next
    /// [`Router::tick`].
    pub(crate) fn start(&mut self, devices: &[crate::backend::VirtualDevice]) {
        let mut apps = Vec::new();
        let mut defaults = Vec::new();
        for d in devices {
            if let Some(pattern) = &d.app {
                // Checked when the session loaded; a pattern that fails here is skipped.
                if let Ok(re) = troubadour_engine::session::app_pattern(pattern) {
                    apps.push((re, d.node_name.clone(), d.owner.clone(), pattern.clone(), 0));
                }
            }
            if d.default {
                let key = if d.media_class == "Audio/Sink" {
                    "default.configured.audio.sink"
                } else {
                    "default.configured.audio.source"
                };
                defaults.push((key, d.node_name.clone()));
            }
        }
        self.plan = Some(Plan {
            apps,
            defaults,
            warned: false,
            defaults_set: false,
            started: std::time::Instant::now(),
        });
    }

    /// Sets the defaults once the metadata's values are known, and moves the streams
    /// that match an app pattern and are not moved yet. Control thread (the PipeWire
    /// loop), every 50 ms.
    pub(crate) fn tick(&mut self) {
        // By now the server's remove_id for those has been read (it follows the
        // global_remove in the same stream).
        self.graveyard
            .retain(|(when, _)| when.elapsed() < std::time::Duration::from_millis(500));
        let Some(plan) = self.plan.as_mut() else {
            return;
        };
        let Some((metadata, _)) = self.metadata.as_ref() else {
            if !plan.warned && (!plan.apps.is_empty() || !plan.defaults.is_empty()) {
                plan.warned = true;
                self.said.push((true,
                    "no session manager's \"default\" metadata on this PipeWire server (is WirePlumber running?): app routing and default devices are off"
                        .into(),
                ));
            }
            return;
        };
        if !self.ready {
            return;
        }
        if !plan.defaults_set {
            plan.defaults_set = true;
            for (key, node) in &plan.defaults {
                let previous = self.globals.get(*key).cloned();
                // A value naming one of ours is a crashed run's: nothing to restore.
                let previous = previous.filter(|(_, v)| !v.contains("\"troubadour."));
                self.saved.entry((*key).to_string()).or_insert(previous);
                let value = format!("{{ \"name\": \"{node}\" }}");
                metadata.set_property(0, key, Some("Spa:String:JSON"), Some(&value));
                self.said
                    .push((false, format!("{node} is the default {}", kind_of(key))));
            }
        }
        // A stream left on one of our devices by name, which no app pattern of this run
        // targets: an earlier run's move (killed, or a hot reload that turned app routing
        // off, whose clean-up did not reach the server before its connection closed). The
        // key goes, so the stream follows the default again. A user's own move
        // (pavucontrol, `pactl move-sink-input`) names the device by serial number.
        let leftovers: Vec<u32> = self
            .targets
            .iter()
            .filter(|(id, v)| {
                v.starts_with("troubadour.")
                    && self.streams.get(id).is_some_and(|s| s.moved.is_none())
                    && !plan.apps.iter().any(|a| a.1 == **v)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in leftovers {
            metadata.set_property(id, TARGET_KEY, None, None);
            if let Some(node) = self.targets.remove(&id) {
                let app = self.streams.get(&id).map_or("", |s| s.app_name.as_str());
                self.said.push((
                    false,
                    format!(
                        "the stream of \"{app}\" (node {id}) was left on {node} by an earlier run: it follows the default device again"
                    ),
                ));
            }
        }
        for (id, stream) in self.streams.iter_mut().filter(|(_, s)| s.moved.is_none()) {
            let client_binary = stream
                .client
                .and_then(|c| self.clients.get(&c))
                .and_then(|c| c.binary.as_deref());
            let names = [
                Some(stream.app_name.as_str()),
                stream.binary.as_deref(),
                client_binary,
            ];
            let Some(app) = plan.apps.iter_mut().find(|(re, ..)| {
                names
                    .iter()
                    .flatten()
                    .any(|n| !n.is_empty() && re.is_match(n))
            }) else {
                continue;
            };
            metadata.set_property(*id, TARGET_KEY, Some("Spa:String"), Some(&app.1));
            app.4 += 1;
            stream.moved = Some(app.1.clone());
            self.said.push((
                false,
                format!(
                    "{}: moved the stream of \"{}\" (node {id}) onto {}",
                    app.2, stream.app_name, app.1
                ),
            ));
        }
        if !plan.warned && plan.started.elapsed() > std::time::Duration::from_secs(3) {
            plan.warned = true;
            for (_, _, owner, pattern, moved) in &plan.apps {
                if *moved == 0 {
                    self.said.push((true, format!(
                        "{owner}: no playback stream matches app = {pattern:?} (yet); its streams are moved here when they start"
                    )));
                }
            }
        }
    }

    /// Undoes what [`Router::tick`] set: the streams' targets removed (they follow the
    /// default again), the previous defaults back. True if it wrote anything (the caller
    /// then makes a round trip before it disconnects, so the writes reach the server).
    pub(crate) fn stop(&mut self) -> bool {
        self.plan = None;
        let Some((metadata, _)) = self.metadata.as_ref() else {
            return false;
        };
        let mut wrote = false;
        for (id, s) in &mut self.streams {
            let Some(ours) = s.moved.take() else { continue };
            // Moved elsewhere since (pavucontrol, pactl): that choice stays.
            if self.targets.get(id).is_some_and(|now| *now != ours) {
                continue;
            }
            metadata.set_property(*id, TARGET_KEY, None, None);
            wrote = true;
        }
        for (key, previous) in std::mem::take(&mut self.saved) {
            match previous {
                Some((type_, value)) => {
                    metadata.set_property(0, &key, type_.as_deref(), Some(&value));
                }
                None => metadata.set_property(0, &key, None, None),
            }
            wrote = true;
        }
        wrote
    }
}

fn kind_of(key: &str) -> &'static str {
    if key.ends_with("sink") {
        "output (default.configured.audio.sink)"
    } else {
        "input (default.configured.audio.source)"
    }
}
