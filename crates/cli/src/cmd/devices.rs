//! `troubadour devices [--json]`: every audio host and device this build can use, with
//! channel counts and rates, the defaults marked; the JACK server's audio ports when
//! one answers; and on PipeWire the mixer's nodes that exist (`troubadour*`: virtual
//! devices of running mixers) and, given a session, the virtual devices it would make.

use std::process::ExitCode;

use serde::Serialize;
use troubadour_io::backend::{VirtualDevice, virtual_devices};
use troubadour_io::jack::JackConnection;

/// `devices --json`: the hosts and their devices, and the JACK server.
#[derive(Serialize)]
struct Listing<'a> {
    /// Whether this build has cpal (its hosts are listed only then).
    cpal: bool,
    hosts: Vec<Host<'a>>,
    /// `null` when no server answers.
    jack: Option<Jack<'a>>,
    /// The `troubadour*` nodes on the PipeWire server; `null` when none answers (or
    /// this build has no PipeWire backend).
    pipewire: Option<Vec<PwNode>>,
    /// The virtual devices the session given would make.
    would_create: Vec<VirtualDevice>,
}

#[derive(Serialize, Clone)]
struct PwNode {
    name: String,
    description: String,
    media_class: String,
}

/// The `troubadour*` nodes on the PipeWire server, or why not.
fn pipewire_nodes() -> Result<Vec<PwNode>, String> {
    #[cfg(feature = "pipewire")]
    {
        troubadour_io::pipewire::our_nodes().map(|list| {
            list.into_iter()
                .map(|n| PwNode {
                    name: n.name,
                    description: n.description,
                    media_class: n.media_class,
                })
                .collect()
        })
    }
    #[cfg(not(feature = "pipewire"))]
    {
        Err("this build has no PipeWire backend".into())
    }
}

/// The virtual devices `session` would make.
fn would_create(session: Option<&std::path::Path>) -> Result<Vec<VirtualDevice>, String> {
    let Some(path) = session else {
        return Ok(Vec::new());
    };
    let loaded = troubadour_engine::session::load(path).map_err(|e| e.to_string())?;
    Ok(virtual_devices(&loaded.session))
}

#[derive(Serialize)]
struct Host<'a> {
    host: &'a str,
    /// Why the host's devices could not be listed, else `null`.
    error: Option<&'a str>,
    devices: Vec<Device<'a>>,
}

#[derive(Serialize)]
struct Device<'a> {
    id: &'a str,
    name: &'a str,
    inputs: u16,
    outputs: u16,
    min_rate: Option<u32>,
    max_rate: Option<u32>,
    default_rate: Option<u32>,
    default_input: bool,
    default_output: bool,
}

#[derive(Serialize)]
struct Jack<'a> {
    sample_rate: u32,
    period: u32,
    ports: Vec<Port<'a>>,
}

#[derive(Serialize)]
struct Port<'a> {
    name: &'a str,
    /// `output` (a strip source) or `input` (a bus sink).
    direction: &'static str,
}

pub fn devices(json: bool, session: Option<&std::path::Path>) -> Result<ExitCode, String> {
    let would = would_create(session)?;
    let pw_nodes = pipewire_nodes();
    let jack = JackConnection::open_quietly("troubadour-devices").ok();
    let jack_ports = jack.as_ref().map(|c| c.audio_ports()).unwrap_or_default();
    #[cfg(feature = "cpal")]
    let hosts = troubadour_io::device::list_devices();
    if json {
        #[allow(unused_mut)] // pushed to only with the `cpal` feature
        let mut listing = Listing {
            cpal: cfg!(feature = "cpal"),
            hosts: Vec::new(),
            jack: jack.as_ref().map(|c| Jack {
                sample_rate: c.sample_rate(),
                period: c.buffer_size(),
                ports: jack_ports
                    .iter()
                    .map(|(name, out)| Port {
                        name,
                        direction: if *out { "output" } else { "input" },
                    })
                    .collect(),
            }),
            pipewire: pw_nodes.clone().ok(),
            would_create: would.clone(),
        };
        #[cfg(feature = "cpal")]
        for (host, devices) in &hosts {
            let (error, devices) = match devices {
                Ok(list) => (
                    None,
                    list.iter()
                        .map(|d| Device {
                            id: &d.id,
                            name: &d.name,
                            inputs: d.inputs,
                            outputs: d.outputs,
                            min_rate: d.rates.map(|r| r.0),
                            max_rate: d.rates.map(|r| r.1),
                            default_rate: d.default_rate,
                            default_input: d.default_input,
                            default_output: d.default_output,
                        })
                        .collect(),
                ),
                Err(e) => (Some(e.as_str()), Vec::new()),
            };
            listing.hosts.push(Host {
                host,
                error,
                devices,
            });
        }
        let text = serde_json::to_string_pretty(&listing)
            .map_err(|e| format!("cannot write the listing as JSON: {e}"))?;
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    #[cfg(feature = "cpal")]
    for (host, devices) in &hosts {
        println!("host {host}:");
        match devices {
            Ok(list) if list.is_empty() => println!("  (no devices)"),
            Ok(list) => {
                for d in list {
                    let mut marks = Vec::new();
                    if d.default_output {
                        marks.push("default output");
                    }
                    if d.default_input {
                        marks.push("default input");
                    }
                    let rates = match (d.rates, d.default_rate) {
                        (Some((lo, hi)), Some(def)) => format!("{lo}–{hi} Hz (default {def})"),
                        (Some((lo, hi)), None) => format!("{lo}–{hi} Hz"),
                        _ => "rates unknown".into(),
                    };
                    println!(
                        "  {}{}  \"{}\"  in {} / out {} channels, {rates}",
                        d.id,
                        if marks.is_empty() {
                            String::new()
                        } else {
                            format!(" [{}]", marks.join(", "))
                        },
                        d.name,
                        d.inputs,
                        d.outputs
                    );
                }
            }
            Err(e) => println!("  cannot list: {e}"),
        }
    }
    #[cfg(not(feature = "cpal"))]
    println!("cpal: not in this build (build with `--features cpal`; needs libasound2-dev)");
    match &jack {
        Some(c) => {
            println!(
                "JACK: a server answers at {} Hz, period {} frames; audio ports:",
                c.sample_rate(),
                c.buffer_size()
            );
            for (name, output) in &jack_ports {
                println!(
                    "  {name} ({})",
                    if *output {
                        "output: a strip source"
                    } else {
                        "input: a bus sink"
                    }
                );
            }
        }
        None => println!("JACK: no server answers"),
    }
    match &pw_nodes {
        Ok(nodes) if nodes.is_empty() => println!("PipeWire: no troubadour nodes"),
        Ok(nodes) => {
            println!("PipeWire: troubadour nodes (running mixers and their virtual devices):");
            for n in nodes {
                println!(
                    "  {}  \"{}\"  {}",
                    n.name,
                    n.description,
                    if n.media_class.is_empty() {
                        "(the mixer)"
                    } else {
                        &n.media_class
                    }
                );
            }
        }
        Err(why) => println!("PipeWire: {why}"),
    }
    if session.is_some() {
        if would.is_empty() {
            println!("the session makes no virtual devices");
        } else {
            println!("the session would make (on --backend pipewire):");
        }
        for v in &would {
            println!(
                "  {}  \"{}\"  {}, {} channels, for {}",
                v.node_name, v.name, v.media_class, v.channels, v.owner
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
