//! `troubadour devices [--json]`: every audio host and device this build can use, with
//! channel counts and rates, the defaults marked; and the JACK server's audio ports when
//! one answers.

use std::process::ExitCode;

use serde::Serialize;
use troubadour_io::jack::JackConnection;

/// `devices --json`: the hosts and their devices, and the JACK server.
#[derive(Serialize)]
struct Listing<'a> {
    /// Whether this build has cpal (its hosts are listed only then).
    cpal: bool,
    hosts: Vec<Host<'a>>,
    /// `null` when no server answers.
    jack: Option<Jack<'a>>,
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

pub fn devices(json: bool) -> Result<ExitCode, String> {
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
    Ok(ExitCode::SUCCESS)
}
