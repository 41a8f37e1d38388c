//! `troubadour devices [--json]`: every audio host and device this build can use, with
//! channel counts and rates, the defaults marked; and the JACK server's audio ports when
//! one answers.

use std::process::ExitCode;

use troubadour_io::jack::JackConnection;

use super::json_string;

pub fn devices(json: bool) -> Result<ExitCode, String> {
    let jack = JackConnection::open_quietly("troubadour-devices").ok();
    let jack_ports = jack.as_ref().map(|c| c.audio_ports()).unwrap_or_default();
    #[cfg(feature = "cpal")]
    let hosts = troubadour_io::device::list_devices();
    if json {
        #[allow(unused_mut)] // pushed to only with the `cpal` feature
        let mut items: Vec<String> = Vec::new();
        #[cfg(feature = "cpal")]
        for (host, devices) in &hosts {
            let (error, devices) = match devices {
                Ok(list) => (
                    "null".to_string(),
                    list
                    .iter()
                    .map(|d| {
                        format!(
                            "{{\"id\": {}, \"name\": {}, \"inputs\": {}, \"outputs\": {}, \"min_rate\": {}, \"max_rate\": {}, \"default_rate\": {}, \"default_input\": {}, \"default_output\": {}}}",
                            json_string(&d.id),
                            json_string(&d.name),
                            d.inputs,
                            d.outputs,
                            d.rates.map_or("null".into(), |r| r.0.to_string()),
                            d.rates.map_or("null".into(), |r| r.1.to_string()),
                            d.default_rate.map_or("null".into(), |r| r.to_string()),
                            d.default_input,
                            d.default_output
                        )
                    })
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                Err(e) => (json_string(e), String::new()),
            };
            items.push(format!(
                "{{\"host\": {}, \"error\": {error}, \"devices\": [{devices}]}}",
                json_string(host)
            ));
        }
        let jack_json = match &jack {
            Some(c) => format!(
                "{{\"sample_rate\": {}, \"period\": {}, \"ports\": [{}]}}",
                c.sample_rate(),
                c.buffer_size(),
                jack_ports
                    .iter()
                    .map(|(n, out)| format!(
                        "{{\"name\": {}, \"direction\": \"{}\"}}",
                        json_string(n),
                        if *out { "output" } else { "input" }
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => "null".into(),
        };
        println!(
            "{{\"cpal\": {}, \"hosts\": [{}], \"jack\": {jack_json}}}",
            cfg!(feature = "cpal"),
            items.join(", ")
        );
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
