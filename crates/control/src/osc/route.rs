//! From bytes to what to do: a datagram decoded (size and nesting checked before rosc
//! sees it), bundles unpacked into messages with the time each is due, and each message
//! turned into an [`Action`] or a [`Refusal`]. Nothing here touches the mixer, so every
//! byte of it can be fuzzed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rosc::{OscMessage, OscPacket, OscTime, OscType};
use serde_json::Value;

use super::stats::Failure;
use super::value::{arg_to_json, is_norm, template_for, type_name};
use crate::api::Request;

/// The largest datagram taken.
pub const MAX_PACKET: usize = 64 * 1024;

/// Bundles inside bundles, at most: deeper is refused before decoding, so no packet can
/// make the decoder recurse far.
const MAX_DEPTH: usize = 8;

/// Seconds from the OSC epoch (1900) to the Unix epoch (RFC 5905).
const UNIX_OFFSET: u64 = 2_208_988_800;

/// One message and when it is due (`None`: now).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Timed {
    pub at: Option<SystemTime>,
    pub message: OscMessage,
}

/// What a message asks.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Action {
    /// A parameter's value, answered to the sender.
    Get { path: String },
    /// A parameter change.
    Set { path: String, value: Value },
    /// Changes under `prefix` for the lease's length.
    Subscribe { prefix: String },
    /// Meter frames at `rate` Hz for the lease's length (0 stops them).
    Meters { rate: f64 },
    /// Scenes, undo and redo, as the API has them.
    Api(Request),
    /// `/info`.
    Info,
    /// The addresses under `prefix`.
    List { prefix: String },
    /// Nothing (a button's release sent to `/undo`).
    Nothing,
}

/// Why a message is not applied: counted, and answered with `/error`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Refusal {
    pub why: Failure,
    pub message: String,
}

impl Refusal {
    fn new(why: Failure, message: impl Into<String>) -> Self {
        Refusal {
            why,
            message: message.into(),
        }
    }
}

/// A datagram's messages in the order they came, each with when it is due.
pub(super) fn decode(bytes: &[u8]) -> Result<Vec<Timed>, String> {
    if bytes.len() > MAX_PACKET {
        return Err(format!("a packet is at most {MAX_PACKET} bytes"));
    }
    check_bundles(bytes, 0)?;
    let (rest, packet) = rosc::decoder::decode_udp(bytes).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the packet", rest.len()));
    }
    let mut out = Vec::new();
    unpack(packet, None, &mut out);
    Ok(out)
}

/// Checks the bundle structure before the decoder sees it: bundles nest no deeper than
/// [`MAX_DEPTH`], and their elements fill them exactly (the decoder would stop quietly
/// at an element that claims more bytes than there are, and drop the rest).
fn check_bundles(bytes: &[u8], depth: usize) -> Result<(), String> {
    if !bytes.starts_with(b"#bundle\0") {
        return Ok(());
    }
    if depth == MAX_DEPTH {
        return Err(format!("bundles nest at most {MAX_DEPTH} deep"));
    }
    let mut rest = bytes
        .get(16..)
        .ok_or("a bundle is cut short in its time tag")?;
    while !rest.is_empty() {
        let size = rest
            .get(..4)
            .ok_or("a bundle element is cut short in its size")?;
        let n = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
        let element = rest.get(4..4usize.saturating_add(n)).ok_or_else(|| {
            format!("a bundle element claims {n} bytes, more than the bundle holds")
        })?;
        check_bundles(element, depth + 1)?;
        rest = &rest[4 + n..];
    }
    Ok(())
}

fn unpack(packet: OscPacket, at: Option<SystemTime>, out: &mut Vec<Timed>) {
    match packet {
        OscPacket::Message(message) => out.push(Timed { at, message }),
        OscPacket::Bundle(bundle) => {
            // An inner bundle is never due before the one holding it.
            let inner = system_time(bundle.timetag);
            let at = match (at, inner) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            for p in bundle.content {
                unpack(p, at, out);
            }
        }
    }
}

/// A time tag as a system time; `None` for "immediately" (0.000…1) and for any time
/// before 1970, which has passed.
fn system_time(t: OscTime) -> Option<SystemTime> {
    let seconds = u64::from(t.seconds).checked_sub(UNIX_OFFSET)?;
    let nanos = (u64::from(t.fractional) * 1_000_000_000) >> 32;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds) + Duration::from_nanos(nanos))
}

/// What the message asks, or why it cannot be done.
pub(super) fn route(message: &OscMessage) -> Result<Action, Refusal> {
    let address = message.addr.as_str();
    let args = message.args.as_slice();
    match address {
        "/subscribe" => match args {
            [] => Ok(Action::Subscribe { prefix: "/".into() }),
            [OscType::String(p)] => Ok(Action::Subscribe {
                prefix: if p.starts_with('/') {
                    p.clone()
                } else {
                    format!("/{p}")
                },
            }),
            _ => Err(wrong(
                address,
                "takes no argument or a prefix string like /strip/Mic",
            )),
        },
        "/meters" => match args {
            [] => Ok(Action::Meters { rate: 30.0 }),
            [arg] => match number(arg) {
                Some(rate) => Ok(Action::Meters { rate }),
                None => Err(wrong(address, "takes a rate in frames per second (f or i)")),
            },
            _ => Err(wrong(address, "takes one rate in frames per second")),
        },
        "/scene/recall" => match args {
            [OscType::String(name)] => Ok(recall(name, 0.0)),
            [OscType::String(name), fade] => match number(fade) {
                Some(ms) => Ok(recall(name, ms)),
                None => Err(wrong(
                    address,
                    "takes a name and a fade time in ms (f or i)",
                )),
            },
            _ => Err(wrong(
                address,
                "takes a scene name (s) and an optional fade in ms",
            )),
        },
        "/scene/save" => match args {
            [OscType::String(name)] => Ok(Action::Api(Request::SceneSave { name: name.clone() })),
            _ => Err(wrong(address, "takes a scene name (s)")),
        },
        "/undo" | "/redo" => {
            let request = if address == "/undo" {
                Request::Undo
            } else {
                Request::Redo
            };
            button(address, args, request)
        }
        "/recorder/start" => button(address, args, Request::RecorderStart),
        "/recorder/stop" => button(address, args, Request::RecorderStop),
        "/recorder/pause" => match args {
            // A toggle's state: T or 1 pauses, F or 0 resumes.
            [OscType::Bool(paused)] => Ok(Action::Api(Request::RecorderPause { paused: *paused })),
            [] => Ok(Action::Api(Request::RecorderPause { paused: true })),
            [arg] => match number(arg) {
                Some(x) => Ok(Action::Api(Request::RecorderPause { paused: x != 0.0 })),
                None => Err(wrong(
                    address,
                    "takes no argument, T/F or a number (0 resumes)",
                )),
            },
            _ => Err(wrong(
                address,
                "takes no argument, T/F or a number (0 resumes)",
            )),
        },
        "/recorder/resume" => button(address, args, Request::RecorderPause { paused: false }),
        "/recorder/mark" => match args {
            [OscType::String(label)] => Ok(Action::Api(Request::RecorderMark {
                label: label.clone(),
            })),
            _ => button(
                address,
                args,
                Request::RecorderMark {
                    label: String::new(),
                },
            ),
        },
        "/info" => match args {
            [] => Ok(Action::Info),
            _ => Err(wrong(address, "takes no argument")),
        },
        "/list" => match args {
            [] => Ok(Action::List { prefix: "/".into() }),
            [OscType::String(p)] => Ok(Action::List {
                prefix: if p.starts_with('/') {
                    p.clone()
                } else {
                    format!("/{p}")
                },
            }),
            _ => Err(wrong(address, "takes no argument or a prefix string")),
        },
        _ if address.starts_with("/macro/") => {
            let name = &address["/macro/".len()..];
            if name.is_empty() {
                return Err(Refusal::new(
                    Failure::UnknownAddress,
                    "/macro/<name> needs the macro's name after the slash",
                ));
            }
            button(address, args, Request::MacroRun { name: name.into() })
        }
        _ => param(address, args),
    }
}

fn param(address: &str, args: &[OscType]) -> Result<Action, Refusal> {
    let path = address.strip_prefix('/').unwrap_or_default();
    if !(path.starts_with("strip/") || path.starts_with("bus/")) {
        return Err(Refusal::new(
            Failure::UnknownAddress,
            "no such address: parameters are /strip/<name or number>/… and /bus/<name or number>/…; \
             the others are /subscribe, /meters, /scene/recall, /scene/save, /macro/<name>, /undo, /redo, \
             /recorder/start, /recorder/stop, /recorder/pause, /recorder/resume, /recorder/mark, /info, /list",
        ));
    }
    let template = template_for(path);
    match args {
        [] => Ok(Action::Get {
            path: path.to_string(),
        }),
        [arg] => arg_to_json(arg, template, is_norm(path))
            .map(|value| Action::Set {
                path: path.to_string(),
                value,
            })
            .map_err(|e| wrong(address, &e)),
        more => Err(wrong(
            address,
            &format!(
                "takes one argument, not {} ({})",
                more.len(),
                more.iter().map(type_name).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

fn recall(name: &str, fade_ms: f64) -> Action {
    Action::Api(Request::SceneRecall {
        name: name.to_string(),
        fade_ms,
    })
}

fn number(arg: &OscType) -> Option<f64> {
    match arg {
        OscType::Float(x) => Some(f64::from(*x)),
        OscType::Double(x) => Some(*x),
        OscType::Int(i) => Some(f64::from(*i)),
        OscType::Long(i) => Some(*i as f64),
        _ => None,
    }
    .filter(|x| x.is_finite())
}

fn wrong(address: &str, message: &str) -> Refusal {
    Refusal::new(Failure::WrongType, format!("{address} {message}"))
}

/// An address that acts like a controller's button: with no argument, or on the press
/// (a non-zero number), not the release.
fn button(address: &str, args: &[OscType], request: Request) -> Result<Action, Refusal> {
    match args {
        [] => Ok(Action::Api(request)),
        [OscType::Bool(true)] => Ok(Action::Api(request)),
        [OscType::Bool(false)] => Ok(Action::Nothing),
        [arg] => match number(arg) {
            Some(x) if x != 0.0 => Ok(Action::Api(request)),
            Some(_) => Ok(Action::Nothing),
            None => Err(wrong(address, "takes no argument (or a button's number)")),
        },
        _ => Err(wrong(address, "takes no argument")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosc::{OscBundle, encoder};
    use serde_json::json;

    fn msg(addr: &str, args: Vec<OscType>) -> OscMessage {
        OscMessage {
            addr: addr.into(),
            args,
        }
    }

    fn bytes(p: OscPacket) -> Vec<u8> {
        encoder::encode(&p).unwrap()
    }

    #[test]
    fn messages_become_requests() {
        assert_eq!(
            route(&msg("/strip/Mic/fader_db", vec![OscType::Float(-6.0)])),
            Ok(Action::Set {
                path: "strip/Mic/fader_db".into(),
                value: json!(-6)
            })
        );
        assert_eq!(
            route(&msg("/strip/1/mute", vec![OscType::Int(1)])),
            Ok(Action::Set {
                path: "strip/1/mute".into(),
                value: json!(true)
            })
        );
        assert_eq!(
            route(&msg("/bus/A1/limiter/ceiling_db", vec![])),
            Ok(Action::Get {
                path: "bus/A1/limiter/ceiling_db".into()
            })
        );
        assert_eq!(
            route(&msg(
                "/scene/recall",
                vec![OscType::String("Live".into()), OscType::Int(500)]
            )),
            Ok(Action::Api(Request::SceneRecall {
                name: "Live".into(),
                fade_ms: 500.0
            }))
        );
        assert_eq!(
            route(&msg("/undo", vec![OscType::Float(0.0)])),
            Ok(Action::Nothing)
        );
        assert_eq!(route(&msg("/redo", vec![])), Ok(Action::Api(Request::Redo)));
        assert_eq!(
            route(&msg(
                "/subscribe",
                vec![OscType::String("strip/Mic".into())]
            )),
            Ok(Action::Subscribe {
                prefix: "/strip/Mic".into()
            })
        );
    }

    #[test]
    fn macro_buttons_run_on_press_only() {
        let run = Ok(Action::Api(Request::MacroRun {
            name: "Go live".into(),
        }));
        assert_eq!(route(&msg("/macro/Go live", vec![])), run);
        assert_eq!(route(&msg("/macro/Go live", vec![OscType::Int(1)])), run);
        assert_eq!(
            route(&msg("/macro/Go live", vec![OscType::Float(1.0)])),
            run
        );
        assert_eq!(
            route(&msg("/macro/Go live", vec![OscType::Bool(true)])),
            run
        );
        // The release of a button that sends its state.
        assert_eq!(
            route(&msg("/macro/Go live", vec![OscType::Float(0.0)])),
            Ok(Action::Nothing)
        );
        assert_eq!(
            route(&msg("/macro/Go live", vec![OscType::Bool(false)])),
            Ok(Action::Nothing)
        );
        let why = |m: OscMessage| route(&m).unwrap_err().why;
        assert_eq!(
            why(msg("/macro/Go live", vec![OscType::String("x".into())])),
            Failure::WrongType
        );
        assert_eq!(
            why(msg(
                "/macro/Go live",
                vec![OscType::Int(1), OscType::Int(1)]
            )),
            Failure::WrongType
        );
        assert_eq!(why(msg("/macro/", vec![])), Failure::UnknownAddress);
    }

    #[test]
    fn refusals_say_why() {
        let why = |m: OscMessage| route(&m).unwrap_err().why;
        assert_eq!(why(msg("/fly", vec![])), Failure::UnknownAddress);
        assert_eq!(why(msg("strip/1/mute", vec![])), Failure::UnknownAddress);
        assert_eq!(
            why(msg("/strip/1/fader_db", vec![OscType::Nil])),
            Failure::WrongType
        );
        assert_eq!(
            why(msg(
                "/strip/1/fader_db",
                vec![OscType::Int(1), OscType::Int(2)]
            )),
            Failure::WrongType
        );
        assert_eq!(
            why(msg("/scene/save", vec![OscType::Int(1)])),
            Failure::WrongType
        );
        assert_eq!(
            why(msg("/meters", vec![OscType::Float(f32::NAN)])),
            Failure::WrongType
        );
    }

    #[test]
    fn bundles_keep_their_order_and_times() {
        let later = OscTime {
            seconds: u32::MAX,
            fractional: 0,
        };
        let inner = OscPacket::Bundle(OscBundle {
            timetag: OscTime {
                seconds: 0,
                fractional: 1,
            },
            content: vec![OscPacket::Message(msg("/b", vec![]))],
        });
        let outer = OscPacket::Bundle(OscBundle {
            timetag: later,
            content: vec![OscPacket::Message(msg("/a", vec![])), inner],
        });
        let timed = decode(&bytes(outer)).unwrap();
        assert_eq!(timed.len(), 2);
        assert_eq!(timed[0].message.addr, "/a");
        assert_eq!(timed[1].message.addr, "/b");
        // The inner "immediately" is due no earlier than its outer bundle.
        assert!(timed[1].at.is_some() && timed[1].at == timed[0].at);
        assert_eq!(
            system_time(OscTime {
                seconds: 0,
                fractional: 1
            }),
            None
        );
        assert_eq!(
            system_time(OscTime {
                seconds: 5,
                fractional: 0
            }),
            None
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_decoding() {
        let mut p = OscPacket::Message(msg("/x", vec![]));
        for _ in 0..MAX_DEPTH + 1 {
            p = OscPacket::Bundle(OscBundle {
                timetag: OscTime {
                    seconds: 0,
                    fractional: 1,
                },
                content: vec![p],
            });
        }
        assert!(decode(&bytes(p)).unwrap_err().contains("nest"));
        assert!(decode(&vec![0u8; MAX_PACKET + 1]).is_err());
        // An element claiming more than the bundle holds, which the decoder would skip.
        let mut lying = b"#bundle\0\0\0\0\0\0\0\0\x01\x7f\xff\xff\xff".to_vec();
        lying.extend([0; 8]);
        assert!(decode(&lying).unwrap_err().contains("claims"));
        let mut tail = bytes(OscPacket::Message(msg("/x", vec![])));
        tail.extend([0; 4]);
        assert!(decode(&tail).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn any_bytes_are_decoded_or_refused_without_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            if let Ok(timed) = decode(&data) {
                for t in &timed {
                    let _ = route(&t.message);
                }
            }
        }

        #[test]
        fn osc_shaped_bytes_never_panic(
            addr in "/[a-z/0-9]{0,30}",
            tags in "[ifsbhdtTFNIcrm\\[\\]]{0,8}",
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            bundle in proptest::prelude::any::<bool>(),
        ) {
            let pad = |b: &mut Vec<u8>| while !b.len().is_multiple_of(4) {
                b.push(0)
            };
            let mut m = addr.into_bytes();
            m.push(0);
            pad(&mut m);
            m.push(b',');
            m.extend(tags.bytes());
            m.push(0);
            pad(&mut m);
            m.extend(tail);
            let data = if bundle {
                let mut b = b"#bundle\0".to_vec();
                b.extend([0, 0, 0, 0, 0, 0, 0, 1]);
                b.extend((m.len() as u32).to_be_bytes());
                b.extend(m);
                b
            } else {
                m
            };
            if let Ok(timed) = decode(&data) {
                for t in &timed {
                    let _ = route(&t.message);
                }
            }
        }
    }

    #[test]
    fn the_recorder_has_buttons_a_pause_toggle_and_labelled_marks() {
        let api = |r| Ok(Action::Api(r));
        assert_eq!(
            route(&msg("/recorder/start", vec![])),
            api(Request::RecorderStart)
        );
        assert_eq!(
            route(&msg("/recorder/stop", vec![OscType::Float(1.0)])),
            api(Request::RecorderStop)
        );
        // A button's release does nothing.
        assert_eq!(
            route(&msg("/recorder/stop", vec![OscType::Float(0.0)])),
            Ok(Action::Nothing)
        );
        assert_eq!(
            route(&msg("/recorder/pause", vec![])),
            api(Request::RecorderPause { paused: true })
        );
        assert_eq!(
            route(&msg("/recorder/pause", vec![OscType::Bool(false)])),
            api(Request::RecorderPause { paused: false })
        );
        assert_eq!(
            route(&msg("/recorder/pause", vec![OscType::Int(0)])),
            api(Request::RecorderPause { paused: false })
        );
        assert_eq!(
            route(&msg("/recorder/resume", vec![])),
            api(Request::RecorderPause { paused: false })
        );
        assert_eq!(
            route(&msg(
                "/recorder/mark",
                vec![OscType::String("chorus".into())]
            )),
            api(Request::RecorderMark {
                label: "chorus".into()
            })
        );
        assert_eq!(
            route(&msg("/recorder/mark", vec![])),
            api(Request::RecorderMark {
                label: String::new()
            })
        );
        let bad = route(&msg("/recorder/pause", vec![OscType::String("x".into())])).unwrap_err();
        assert_eq!(bad.why, Failure::WrongType);
        assert!(bad.message.contains("/recorder/pause"), "{}", bad.message);
    }
}
