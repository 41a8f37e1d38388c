//! Which backend: the user's choice, or what `auto` finds, with the reason.

use std::str::FromStr;
use std::sync::Arc;

use troubadour_io::backend::Driver;
use troubadour_io::jack::{JackConnection, JackDriver};
use troubadour_io::midi::MidiHub;
use troubadour_io::null::NullDriver;
use troubadour_io::thread::ThreadSetup;

/// The backend the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// JACK when a server answers that is not PipeWire's own JACK interface, else
    /// PipeWire when its server answers (natively), else PipeWire's JACK, else cpal when
    /// its default host has an output device, else null.
    #[default]
    Auto,
    /// A JACK server (an error when none answers).
    Jack,
    /// cpal's default host.
    Cpal,
    /// The null backend.
    Null,
    /// The native PipeWire backend (an error when no PipeWire server answers).
    Pipewire,
}

impl FromStr for BackendChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(BackendChoice::Auto),
            "jack" => Ok(BackendChoice::Jack),
            "cpal" => Ok(BackendChoice::Cpal),
            "null" => Ok(BackendChoice::Null),
            "pipewire" => Ok(BackendChoice::Pipewire),
            other => Err(format!(
                "unknown backend {other:?}: expected auto, jack, pipewire, cpal or null"
            )),
        }
    }
}

/// A driver for the choice, and what `auto` found (None for an explicit choice). A JACK
/// driver carries MIDI ports for `midi`.
pub(crate) fn pick(
    choice: BackendChoice,
    client_name: &str,
    setup: ThreadSetup,
    midi: Option<Arc<MidiHub>>,
) -> Result<(Box<dyn Driver>, Option<String>), String> {
    match choice {
        BackendChoice::Null => Ok((Box::new(NullDriver::new(setup)), None)),
        BackendChoice::Jack => Ok((Box::new(JackDriver::new(client_name).with_midi(midi)), None)),
        BackendChoice::Cpal => cpal_driver().map(|d| (d, None)),
        BackendChoice::Pipewire => pipewire_driver(client_name, false).map(|d| (d, None)),
        BackendChoice::Auto => {
            let jack = JackConnection::open_quietly(client_name);
            // PipeWire's JACK (pw-jack) answers as a JACK server: native PipeWire is
            // preferred to it, and it is used only when the native backend cannot be.
            let pipewires = jack
                .as_ref()
                .ok()
                .and_then(|_| troubadour_io::jack_server::pipewire_libjack());
            let e = match (jack, pipewires) {
                (Ok(c), None) => {
                    return Ok((
                        Box::new(JackDriver::with_connection(c, client_name).with_midi(midi)),
                        Some("auto: a JACK server answers (not PipeWire's)".into()),
                    ));
                }
                (Ok(c), Some(lib)) => {
                    let why = format!("the JACK server that answers is PipeWire's (libjack {lib})");
                    match pipewire_driver(client_name, true) {
                        Ok(d) => {
                            drop(c);
                            return Ok((
                                d,
                                Some(format!("auto: {why}; a PipeWire server answers natively")),
                            ));
                        }
                        Err(pw) => {
                            return Ok((
                                Box::new(
                                    JackDriver::with_connection(c, client_name).with_midi(midi),
                                ),
                                Some(format!("auto: {why}; {pw}; PipeWire's JACK it is")),
                            ));
                        }
                    }
                }
                (Err(e), _) => e,
            };
            Ok(match pipewire_driver(client_name, true) {
                Ok(d) => (d, Some(format!("auto: {e}; a PipeWire server answers"))),
                Err(pw) => match default_output() {
                    Ok(host) => (
                        cpal_driver()?,
                        Some(format!("auto: {e}; {pw}; {host} has an output device")),
                    ),
                    Err(why) => (
                        Box::new(NullDriver::new(setup)),
                        Some(format!("auto: {e}; {pw}; {why}")),
                    ),
                },
            })
        }
    }
}

/// The PipeWire driver; `probe`: connected already (for `auto`, to see whether a server
/// answers).
#[cfg(feature = "pipewire")]
fn pipewire_driver(client_name: &str, probe: bool) -> Result<Box<dyn Driver>, String> {
    use troubadour_io::pipewire::PipewireDriver;
    if probe {
        Ok(Box::new(PipewireDriver::probe(client_name)?))
    } else {
        Ok(Box::new(PipewireDriver::new(client_name)))
    }
}

#[cfg(not(feature = "pipewire"))]
fn pipewire_driver(_: &str, _: bool) -> Result<Box<dyn Driver>, String> {
    Err("this build has no PipeWire backend (it was built without the `pipewire` feature)".into())
}

#[cfg(feature = "cpal")]
fn cpal_driver() -> Result<Box<dyn Driver>, String> {
    Ok(Box::new(troubadour_io::device::CpalDriver::new()))
}

#[cfg(not(feature = "cpal"))]
fn cpal_driver() -> Result<Box<dyn Driver>, String> {
    Err("this build has no cpal backend (it was built without the `cpal` feature)".into())
}

/// cpal's default host when it has an output device, or why not.
fn default_output() -> Result<String, String> {
    #[cfg(feature = "cpal")]
    {
        troubadour_io::device::default_output()
            .map(|(host, _)| host)
            .ok_or_else(|| "cpal's default host has no output device".to_string())
    }
    #[cfg(not(feature = "cpal"))]
    {
        Err("this build has no cpal backend".into())
    }
}
