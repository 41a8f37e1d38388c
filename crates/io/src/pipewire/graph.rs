//! What the PipeWire thread knows of the graph (nodes and ports, from the registry) and
//! the links the session wants: from device sources and virtual devices to the filter's
//! inputs, from its outputs to device sinks and virtual devices.
//!
//! A device spec names ports as `node.name:port.name` (exact, else a regular expression
//! over the whole name), or a node by its `node.name` (all its ports of the direction),
//! comma-separated, as on JACK. A virtual device is linked by its node name: its monitor
//! (output) ports into a strip, a bus into its input ports.

use std::collections::BTreeMap;

/// One port in the graph.
#[derive(Debug, Clone)]
pub(crate) struct PortInfo {
    pub(crate) id: u32,
    pub(crate) node: u32,
    pub(crate) name: String,
    /// True for an output port (one to read from).
    pub(crate) output: bool,
    /// Its index on the node (`port.id`), for channel order.
    pub(crate) index: u32,
}

/// Where a strip reads or a bus plays.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Peer {
    /// A session device spec.
    Device(String),
    /// One of our virtual devices, by node name.
    Virtual(String),
}

impl Peer {
    /// In words, for the user.
    pub(crate) fn describe(&self) -> String {
        match self {
            Peer::Device(spec) => format!("\"{spec}\""),
            Peer::Virtual(node) => format!("the virtual device {node}"),
        }
    }
}

/// Links wanted for one strip (into the filter's inputs) or bus (from its outputs).
#[derive(Debug, Clone)]
pub(crate) struct Want {
    /// "strip \"Mic\"" or "bus \"A1\"".
    pub(crate) what: String,
    /// True for a strip (their outputs → our inputs).
    pub(crate) strip: bool,
    /// Our port names, in channel order.
    pub(crate) ours: Vec<String>,
    pub(crate) peer: Peer,
    /// Linked already.
    pub(crate) done: bool,
}

/// The registry's nodes and ports.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    /// Node id → node.name.
    pub(crate) nodes: BTreeMap<u32, String>,
    pub(crate) ports: Vec<PortInfo>,
}

impl Graph {
    fn node_name(&self, id: u32) -> Option<&str> {
        self.nodes.get(&id).map(String::as_str)
    }

    /// `node.name:port.name` of a port.
    fn full(&self, p: &PortInfo) -> Option<String> {
        self.node_name(p.node).map(|n| format!("{n}:{}", p.name))
    }

    /// The ports of node `name` of one direction, in channel order.
    fn node_ports(&self, name: &str, output: bool) -> Vec<&PortInfo> {
        let mut ports: Vec<&PortInfo> = self
            .ports
            .iter()
            .filter(|p| p.output == output && self.node_name(p.node) == Some(name))
            .collect();
        ports.sort_by_key(|p| p.index);
        ports
    }

    /// Ports a peer names, of one direction, in order.
    pub(crate) fn resolve(&self, peer: &Peer, output: bool) -> Vec<&PortInfo> {
        match peer {
            Peer::Virtual(node) => self.node_ports(node, output),
            Peer::Device(spec) => {
                let mut found = Vec::new();
                for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let by_node = self.node_ports(item, output);
                    if !by_node.is_empty() {
                        found.extend(by_node);
                        continue;
                    }
                    let exact: Vec<&PortInfo> = self
                        .ports
                        .iter()
                        .filter(|p| p.output == output && self.full(p).as_deref() == Some(item))
                        .collect();
                    if !exact.is_empty() {
                        found.extend(exact);
                        continue;
                    }
                    if let Ok(re) = regex::Regex::new(&format!("^(?:{item})$")) {
                        let mut matched: Vec<&PortInfo> = self
                            .ports
                            .iter()
                            .filter(|p| {
                                p.output == output && self.full(p).is_some_and(|f| re.is_match(&f))
                            })
                            .collect();
                        matched.sort_by_key(|p| (p.node, p.index));
                        found.extend(matched);
                    }
                }
                found
            }
        }
    }

    /// The links (output port id, input port id) that make `want`, once both our node
    /// (`ours`) and the peer's ports are known; None while they are not.
    pub(crate) fn plan(&self, ours: u32, want: &Want) -> Option<Vec<(u32, u32)>> {
        let mine = |name: &String| {
            self.ports
                .iter()
                .find(|p| p.node == ours && p.name == *name && p.output != want.strip)
                .map(|p| p.id)
        };
        let mine: Option<Vec<u32>> = want.ours.iter().map(mine).collect();
        let mine = mine?;
        let theirs: Vec<u32> = self
            .resolve(&want.peer, want.strip)
            .iter()
            .map(|p| p.id)
            .collect();
        if theirs.is_empty() || mine.is_empty() {
            return None;
        }
        Some(if want.strip {
            // One source port feeds every channel of the strip (mono into stereo).
            mine.iter()
                .enumerate()
                .map(|(k, &m)| (theirs[k.min(theirs.len() - 1)], m))
                .collect()
        } else {
            // A mono bus feeds every sink port; otherwise channel k to port k.
            theirs
                .iter()
                .enumerate()
                .map(|(k, &t)| (mine[k.min(mine.len() - 1)], t))
                .collect()
        })
    }
}

/// The standard channel positions for `channels` channels (as PipeWire's
/// `audio.position`).
pub(crate) fn positions(channels: u16) -> String {
    let list: &[&str] = match channels {
        1 => &["MONO"],
        2 => &["FL", "FR"],
        3 => &["FL", "FR", "LFE"],
        4 => &["FL", "FR", "RL", "RR"],
        5 => &["FL", "FR", "FC", "RL", "RR"],
        6 => &["FL", "FR", "FC", "LFE", "RL", "RR"],
        7 => &["FL", "FR", "FC", "LFE", "SL", "SR", "RC"],
        8 => &["FL", "FR", "FC", "LFE", "RL", "RR", "SL", "SR"],
        n => {
            return (0..n)
                .map(|k| format!("AUX{k}"))
                .collect::<Vec<_>>()
                .join(",");
        }
    };
    list.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(id: u32, node: u32, name: &str, output: bool, index: u32) -> PortInfo {
        PortInfo {
            id,
            node,
            name: name.into(),
            output,
            index,
        }
    }

    fn graph() -> Graph {
        let mut g = Graph::default();
        g.nodes.insert(10, "troubadour".into());
        g.nodes.insert(20, "mic".into());
        g.ports = vec![
            port(1, 10, "Mic_in_L", false, 0),
            port(2, 10, "Mic_in_R", false, 1),
            port(3, 20, "capture_FR", true, 1),
            port(4, 20, "capture_FL", true, 0),
        ];
        g
    }

    #[test]
    fn a_node_name_links_its_ports_in_channel_order() {
        let want = Want {
            what: "strip".into(),
            strip: true,
            ours: vec!["Mic_in_L".into(), "Mic_in_R".into()],
            peer: Peer::Device("mic".into()),
            done: false,
        };
        assert_eq!(graph().plan(10, &want), Some(vec![(4, 1), (3, 2)]));
    }

    #[test]
    fn a_regex_over_node_and_port_names_matches_and_a_mono_source_feeds_both() {
        let want = Want {
            what: "strip".into(),
            strip: true,
            ours: vec!["Mic_in_L".into(), "Mic_in_R".into()],
            peer: Peer::Device("mi.:capture_FR".into()),
            done: false,
        };
        assert_eq!(graph().plan(10, &want), Some(vec![(3, 1), (3, 2)]));
        let none = Want {
            peer: Peer::Device("nothing.*".into()),
            ..want
        };
        assert_eq!(graph().plan(10, &none), None);
    }

    #[test]
    fn positions_are_the_standard_ones() {
        assert_eq!(positions(1), "MONO");
        assert_eq!(positions(2), "FL,FR");
        assert_eq!(positions(10).split(',').count(), 10);
    }
}
