//! `troubadour devices` on PipeWire: the nodes of ours that exist (running mixers and
//! their virtual devices), listed from the registry in one round trip.

use std::cell::RefCell;
use std::rc::Rc;

use pipewire as pw;
use pw::types::ObjectType;

/// A node of ours on the server (`node.name` starting with `troubadour`), for
/// `troubadour devices`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OurNode {
    /// `node.name`.
    pub name: String,
    /// `node.description` (a virtual device's name).
    pub description: String,
    /// `media.class` (`Audio/Sink`, `Audio/Source/Virtual`; empty for the mixer's own
    /// filter node).
    pub media_class: String,
}

/// The `troubadour*` nodes on the PipeWire server, or why they cannot be listed. Connects
/// on the calling thread, for one round trip.
pub fn our_nodes() -> Result<Vec<OurNode>, String> {
    let mut list: Vec<OurNode> = all_nodes()?
        .into_values()
        .filter(|(n, _)| n.name.starts_with("troubadour"))
        .map(|(n, _)| n)
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}

/// For `troubadour check`: the session's virtual devices whose node name another
/// program's node already has on the PipeWire server (one line each, naming both), or
/// why the server cannot be asked. Our own devices (of a running or persisted mixer)
/// are no clash here; `run` decides about those.
pub fn clashes(session: &troubadour_engine::session::Session) -> Result<Vec<String>, String> {
    let devices = crate::backend::virtual_devices(session);
    if devices.is_empty() {
        return Ok(Vec::new());
    }
    let nodes: std::collections::BTreeMap<u32, (String, String)> = all_nodes()?
        .into_iter()
        .map(|(id, (n, path))| (id, (n.name, path)))
        .collect();
    Ok(devices
        .iter()
        .filter_map(|d| super::devices::other_programs(d, &nodes))
        .collect())
}

/// Every node on the server: id → (what `devices` shows, `object.path`).
fn all_nodes() -> Result<std::collections::BTreeMap<u32, (OurNode, String)>, String> {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(pw::init);
    let why = |what: &str, e: pw::Error| format!("{what}: {e} ({})", remote_description());
    let mainloop = pw::main_loop::MainLoopRc::new(None).map_err(|e| why("no loop", e))?;
    let context = pw::context::ContextRc::new(&mainloop, None).map_err(|e| why("no context", e))?;
    let core = context
        .connect_rc(None)
        .map_err(|e| why("no PipeWire server answers", e))?;
    let registry = core.get_registry_rc().map_err(|e| why("no registry", e))?;
    let found = Rc::new(RefCell::new(std::collections::BTreeMap::new()));
    let _listener = {
        let found = Rc::clone(&found);
        registry
            .add_listener_local()
            .global(move |g| {
                let Some(props) = g.props else { return };
                if g.type_ != ObjectType::Node {
                    return;
                }
                let get = |k: &str| props.get(k).unwrap_or_default().to_string();
                let node = OurNode {
                    name: get("node.name"),
                    description: get("node.description"),
                    media_class: get("media.class"),
                };
                found.borrow_mut().insert(g.id, (node, get("object.path")));
            })
            .register()
    };
    let pending = core.sync(0).map_err(|e| why("no answer", e))?;
    let _done = {
        let ml = mainloop.downgrade();
        let ml2 = mainloop.downgrade();
        core.add_listener_local()
            .done(move |id, seq| {
                if id == pw::core::PW_ID_CORE
                    && seq == pending
                    && let Some(ml) = ml.upgrade()
                {
                    ml.quit();
                }
            })
            // A connection lost halfway: the list is what came before.
            .error(move |id, _, _, _| {
                if id == pw::core::PW_ID_CORE
                    && let Some(ml) = ml2.upgrade()
                {
                    ml.quit();
                }
            })
            .register()
    };
    mainloop.run();
    Ok(found.take())
}

/// Where libpipewire looks for the server, in words (for errors).
pub(crate) fn remote_description() -> String {
    let remote = std::env::var("PIPEWIRE_REMOTE").unwrap_or_else(|_| "pipewire-0".into());
    let dir = std::env::var("PIPEWIRE_RUNTIME_DIR")
        .or_else(|_| std::env::var("XDG_RUNTIME_DIR"))
        .unwrap_or_else(|_| "(no XDG_RUNTIME_DIR)".into());
    format!("remote \"{remote}\", socket {dir}/{remote}")
}
