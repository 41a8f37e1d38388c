//! Making the session's virtual devices: `support.null-audio-sink` adapter nodes on our
//! own connection, each marked with `object.path` = `troubadour:PID:NODE:CHANNELS` (a
//! key the registry shows, unlike a custom one), so that a start can tell its own
//! devices from another program's of the same name, and a lingering one of another
//! channel count from one it can reuse.
//!
//! - A node of that name not marked as ours: an error that names it (apps could not
//!   tell the two apart, and links by name would pick either).
//! - Ours, and `persist = true`: reused (a lingering device left by an earlier run);
//!   never a duplicate. One of another channel count than the session's now (or of
//!   an older marker that does not say) is destroyed and made again: apps that chose
//!   it by name find the new one.
//! - Ours, from this process (a previous connection's, going away): made again.
//! - Ours, from another process, without `persist`: an error (another Troubadour runs
//!   it, or a `persist = true` run left it).

use std::collections::BTreeMap;

use pipewire as pw;

use crate::backend::VirtualDevice;

/// The `object.path` our devices carry.
pub(crate) fn marker(node_name: &str, channels: u16) -> String {
    format!("troubadour:{}:{node_name}:{channels}", std::process::id())
}

/// The pid and the channel count (if it says) in one of our markers, or None if
/// `path` is not ours. Node names have no `:` (see `VirtualDevice::node_name`).
fn marked(path: &str, node_name: &str) -> Option<(u32, Option<u16>)> {
    let rest = path.strip_prefix("troubadour:")?;
    let (pid, rest) = rest.split_once(':')?;
    let (name, channels) = match rest.split_once(':') {
        Some((name, ch)) => (name, Some(ch.parse().ok()?)),
        None => (rest, None),
    };
    (name == node_name).then(|| Some((pid.parse().ok()?, channels)))?
}

fn marked_pid(path: &str, node_name: &str) -> Option<u32> {
    marked(path, node_name).map(|(pid, _)| pid)
}

/// What a start does with one device given the server's nodes (id → (node.name,
/// object.path)).
#[derive(Debug, PartialEq)]
pub(crate) enum Plan {
    Create,
    Reuse(u32),
    /// Destroy that lingering node (it had that many channels, if it said), then create.
    Replace(u32, Option<u16>),
}

/// Decides for `d`, or says why it cannot be made.
pub(crate) fn plan(
    d: &VirtualDevice,
    nodes: &BTreeMap<u32, (String, String)>,
) -> Result<Plan, String> {
    let mut plan = Plan::Create;
    for (&id, (name, path)) in nodes.iter().filter(|(_, (n, _))| *n == d.node_name) {
        match marked_pid(path, name) {
            None => {
                return Err(format!(
                    "{}: the virtual device \"{}\" would be node {}, but the PipeWire server already has a node of that name made by another program (node {id}{}): rename the virtual device",
                    d.owner,
                    d.name,
                    d.node_name,
                    if path.is_empty() {
                        String::new()
                    } else {
                        format!(", object.path {path}")
                    }
                ));
            }
            Some(_) if d.persist => {
                plan = match marked(path, name).and_then(|(_, ch)| ch) {
                    Some(ch) if ch == d.channels => Plan::Reuse(id),
                    had => Plan::Replace(id, had),
                }
            }
            Some(pid) if pid == std::process::id() => {}
            Some(pid) => {
                return Err(format!(
                    "{}: the virtual device \"{}\" (node {}) is already on the PipeWire server (node {id}), made by Troubadour process {pid}: that one still runs, or a run with persist = true left it (reuse it with persist = true, or remove it with `pw-cli destroy {id}`)",
                    d.owner, d.name, d.node_name
                ));
            }
        }
    }
    Ok(plan)
}

/// Why `d` clashes with a node of another program's, if it does (for `check`).
pub(crate) fn other_programs(
    d: &VirtualDevice,
    nodes: &BTreeMap<u32, (String, String)>,
) -> Option<String> {
    let ours = |(_, (name, path)): &(&u32, &(String, String))| marked_pid(path, name).is_some();
    let theirs: BTreeMap<u32, (String, String)> = nodes
        .iter()
        .filter(|n| !ours(n))
        .map(|(id, n)| (*id, n.clone()))
        .collect();
    plan(d, &theirs).err()
}

/// Makes (or finds) every device; the proxies of those made, and a line for each.
pub(crate) fn make(
    core: &pw::core::CoreRc,
    registry: &pw::registry::RegistryRc,
    devices: &[VirtualDevice],
    nodes: &BTreeMap<u32, (String, String)>,
) -> Result<(Vec<pw::node::Node>, Vec<String>), String> {
    let mut made = Vec::new();
    let mut notes = Vec::new();
    for d in devices {
        let what = format!(
            "virtual device \"{}\" ({}, {} ch, node {}) for {}",
            d.name, d.media_class, d.channels, d.node_name, d.owner
        );
        let mut replaced = None;
        match plan(d, nodes)? {
            Plan::Reuse(id) => {
                notes.push(format!("{what}: reused (node {id}, persist = true)"));
                continue;
            }
            // The server handles our messages in order: the old node is gone before
            // the new one of its name is made.
            Plan::Replace(id, had) => {
                registry.destroy_global(id);
                replaced = Some(match had {
                    Some(ch) => format!("replaced the lingering node {id}, which had {ch} ch"),
                    None => format!("replaced the lingering node {id}"),
                });
            }
            Plan::Create => {}
        }
        let linger = if d.persist { "true" } else { "false" };
        let props = pw::properties::properties! {
            "factory.name" => "support.null-audio-sink",
            "node.name" => d.node_name.as_str(),
            "node.description" => d.name.as_str(),
            "media.class" => d.media_class,
            "audio.channels" => d.channels.to_string(),
            "audio.position" => super::graph::positions(d.channels),
            "node.virtual" => "true",
            "object.path" => marker(&d.node_name, d.channels),
            "object.linger" => linger,
        };
        match core.create_object::<pw::node::Node>("adapter", &props) {
            Ok(node) => {
                let what = match replaced.take() {
                    Some(r) => format!("{what}: {r}"),
                    None => what,
                };
                notes.push(if d.persist {
                    format!("{what}: persists after exit")
                } else {
                    what
                });
                made.push(node);
            }
            Err(e) => {
                return Err(format!(
                    "cannot create the virtual device \"{}\": {e}",
                    d.name
                ));
            }
        }
    }
    Ok((made, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(persist: bool) -> VirtualDevice {
        VirtualDevice {
            name: "Browser".into(),
            node_name: "troubadour.browser".into(),
            media_class: "Audio/Sink",
            channels: 2,
            owner: "strip \"Browser\"".into(),
            default: false,
            persist,
            app: None,
        }
    }

    #[test]
    fn another_programs_node_of_the_name_is_an_error_that_names_it() {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            43,
            ("troubadour.browser".to_string(), "pulse:sink".to_string()),
        );
        let err = plan(&device(false), &nodes).unwrap_err();
        assert!(
            err.contains("already has a node of that name made by another program (node 43"),
            "{err}"
        );
        assert!(plan(&device(true), &nodes).is_err());
    }

    #[test]
    fn a_persisted_device_is_reused_and_ours_from_this_process_is_made_again() {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            50,
            (
                "troubadour.browser".to_string(),
                "troubadour:1:troubadour.browser:2".to_string(),
            ),
        );
        assert_eq!(plan(&device(true), &nodes), Ok(Plan::Reuse(50)));
        // Left with another channel count, or by a version whose marker did not say.
        let mut mono = device(true);
        mono.channels = 1;
        assert_eq!(plan(&mono, &nodes), Ok(Plan::Replace(50, Some(2))));
        let mut old = nodes.clone();
        old.insert(
            50,
            (
                "troubadour.browser".into(),
                "troubadour:1:troubadour.browser".into(),
            ),
        );
        assert_eq!(plan(&device(true), &old), Ok(Plan::Replace(50, None)));
        let err = plan(&device(false), &nodes).unwrap_err();
        assert!(err.contains("made by Troubadour process 1"), "{err}");
        nodes.insert(
            50,
            ("troubadour.browser".into(), marker("troubadour.browser", 2)),
        );
        assert_eq!(plan(&device(false), &nodes), Ok(Plan::Create));
        assert_eq!(plan(&device(false), &BTreeMap::new()), Ok(Plan::Create));
    }
}
