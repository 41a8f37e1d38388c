//! Starting the control API as `troubadour run` does: loopback by default; on another
//! address, with a token (created on first use into a file only the user can read).

use std::net::SocketAddr;

use crate::server::{self, Server, ServerConfig};
use crate::service::Handle;

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// WebSocket clients served at once.
    pub max_clients: usize,
    /// Host names accepted besides loopback names, IP literals and this machine's name.
    pub extra_hosts: Vec<String>,
}

impl ApiOptions {
    /// Serve on `listen` with the default limits.
    pub fn new(listen: SocketAddr) -> Self {
        ApiOptions {
            listen,
            max_clients: 64,
            extra_hosts: Vec::new(),
        }
    }
}

/// A serving API and the lines that tell the user about it.
pub struct Api {
    /// The server (stop it before the service shuts down).
    pub server: Server,
    /// What to print: the address, and the token when one is needed.
    pub lines: Vec<String>,
}

/// Starts the server on `options.listen` for `handle`.
pub fn start_api(options: &ApiOptions, handle: Handle) -> Result<Api, String> {
    let mut lines = Vec::new();
    let token = if options.listen.ip().is_loopback() {
        None
    } else {
        let dir = server::token_dir();
        let (token, path, created) = server::load_or_create_token(&dir)
            .map_err(|e| format!("cannot set up the API token in {}: {e}", dir.display()))?;
        lines.push(format!(
            "control API token ({} {}): {token}",
            if created { "created in" } else { "from" },
            path.display()
        ));
        Some(token)
    };
    let server = server::start(
        ServerConfig {
            listen: options.listen,
            token,
            max_clients: options.max_clients,
            extra_hosts: options.extra_hosts.clone(),
        },
        handle,
    )
    .map_err(|e| format!("cannot serve the control API on {}: {e} (--listen ADDR picks another address, --no-api serves none)", options.listen))?;
    lines.insert(
        0,
        format!(
            "control API on http://{}/api/v1 (WebSocket /api/v1/ws, metrics /metrics)",
            server.local_addr()
        ),
    );
    Ok(Api { server, lines })
}

/// A serving OSC surface and the line that tells the user about it.
pub struct OscSurface {
    /// The thread (stop it before the service shuts down).
    pub osc: crate::osc::Osc,
    /// What to print.
    pub line: String,
}

/// Starts OSC on `listen` (UDP) for `handle`, its counters added to `service`'s
/// `/metrics`. Bound to loopback unless told otherwise; OSC has no token, so an address
/// other than loopback lets anyone who reaches it change the mix (the line says so).
pub fn start_osc(
    listen: SocketAddr,
    service: &mut crate::service::Service,
) -> Result<OscSurface, String> {
    let osc = crate::osc::start(listen, service.handle()).map_err(|e| {
        format!("cannot serve OSC on udp://{listen}: {e} (--osc ADDR picks another address, --no-osc serves none)")
    })?;
    let stats = osc.stats();
    service.add_metrics_source(Box::new(move |out| stats.write_metrics(out)));
    let mut line = format!("OSC on udp://{}", osc.local_addr());
    if !listen.ip().is_loopback() {
        line.push_str(
            " (not loopback: OSC has no token, anyone who reaches it can change the mix)",
        );
    }
    Ok(OscSurface { osc, line })
}

/// Starts the MIDI surface for `service` (its JACK client opens whenever a JACK server
/// answers), its counters added to `/metrics`; returns it and the line to print.
pub fn start_midi(
    options: crate::midi::MidiOptions,
    service: &mut crate::service::Service,
) -> Result<(crate::midi::Midi, String), String> {
    let mut line = match options.hub.as_ref().and_then(|h| h.ports()) {
        Some((i, o)) => format!("MIDI: ports {i}, {o} on the audio client"),
        None => "MIDI: JACK client troubadour-midi (ports in, out) whenever a JACK server answers"
            .to_string(),
    };
    if !options.inputs.is_empty() {
        line.push_str(&format!("; connecting from {}", options.inputs.join(", ")));
    }
    if !options.outputs.is_empty() {
        line.push_str(&format!("; feedback to {}", options.outputs.join(", ")));
    }
    let midi = crate::midi::start(options, service.handle())
        .map_err(|e| format!("cannot start the MIDI thread: {e}"))?;
    let counters = midi.counters();
    service.add_metrics_source(Box::new(move |out| counters.write_metrics(out)));
    Ok((midi, line))
}
