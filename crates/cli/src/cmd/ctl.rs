//! `troubadour ctl`: a client of a running instance, over its HTTP and WebSocket API.
//!
//! Exit codes: 0 done, 1 the server refused (its message is printed), 2 no instance
//! answers (and it says so).

use std::process::ExitCode;

use serde_json::{Value, json};

mod http;
mod show;

use http::{Client, Failure};

/// `ctl`'s flags and its command.
#[derive(Debug, clap::Args)]
pub struct CtlArgs {
    /// The instance's address.
    #[arg(long, default_value = "http://127.0.0.1:7474", global = true)]
    url: String,
    /// The token (default: the one in the token file, if there is one).
    #[arg(long, global = true)]
    token: Option<String>,
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Print a parameter's value (`strip/Mic/fader_db`, `bus/1/mute`, `…/norm`).
    Get { path: String },
    /// Set a parameter: a number, true/false, -inf, or text.
    Set {
        path: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Print the whole session (a summary, or JSON).
    State {
        #[arg(long)]
        json: bool,
    },
    /// Print events live: changes, meters or status.
    Watch {
        #[arg(default_value = "changes", value_parser = ["changes", "meters", "status"])]
        topic: String,
        /// Meter frames per second.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
    },
    /// Save, recall, list or delete scenes.
    Scene {
        #[arg(value_parser = ["save", "recall", "list", "delete"])]
        action: String,
        name: Option<String>,
        /// Crossfade time for `recall`.
        #[arg(long, default_value_t = 0.0)]
        fade_ms: f64,
    },
    /// MIDI: `learn PATH` maps the next control moved on any input to PATH (and
    /// saves it with the session); waits for it and prints the mapping.
    Midi {
        #[arg(value_parser = ["learn"])]
        action: String,
        path: String,
        /// How long to wait for a control to move, in seconds.
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
    },
    /// Run a macro (its actions in order, one undo step).
    Macro { name: String },
    /// The recorder: `start` a take of the session's `[recorder]` tracks, `stop` it
    /// (prints the take's folder once every file is finished), `pause`, `resume`,
    /// `mark [LABEL]`, or `status`.
    Rec {
        #[arg(value_parser = ["start", "stop", "pause", "resume", "mark", "status"])]
        action: String,
        /// The marker's label (`mark`).
        label: Option<String>,
        /// Print the reply as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Undo the last change (from any client).
    Undo,
    /// Redo the last undone change.
    Redo,
}

pub fn ctl(args: &CtlArgs) -> ExitCode {
    let token = args.token.clone().or_else(|| {
        let path = troubadour_control::server::token_dir().join("token");
        std::fs::read_to_string(path)
            .ok()
            .map(|t| t.trim().to_string())
    });
    let client = match Client::new(&args.url, token) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("troubadour ctl: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&client, &args.what) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused { code, message }) => {
            eprintln!("troubadour ctl: refused ({code}): {message}");
            ExitCode::from(1)
        }
        Err(Failure::NoAnswer(why)) => {
            eprintln!(
                "troubadour ctl: no Troubadour instance answers at {}: {why}",
                args.url
            );
            ExitCode::from(2)
        }
    }
}

fn encode_path(path: &str) -> String {
    path.split('/')
        .map(http::percent)
        .collect::<Vec<_>>()
        .join("/")
}

/// A command-line value as JSON: numbers, booleans and `-inf` as they are, anything
/// else as text.
fn value_of(text: &str) -> Value {
    match text {
        "-inf" => json!("-inf"),
        "true" | "on" => json!(true),
        "false" | "off" => json!(false),
        _ => serde_json::from_str::<Value>(text)
            .ok()
            .filter(|v| v.is_number())
            .unwrap_or_else(|| json!(text)),
    }
}

fn run(client: &Client, what: &What) -> Result<(), Failure> {
    match what {
        What::Get { path } => {
            let v = client.send(
                "GET",
                &format!("/api/v1/params/{}", encode_path(path)),
                None,
            )?;
            println!("{}", show::plain(&v["value"]));
        }
        What::Set { path, value } => {
            let body = json!({ "value": value_of(value) });
            let v = client.send(
                "PUT",
                &format!("/api/v1/params/{}", encode_path(path)),
                Some(&body),
            )?;
            println!("{} = {}", show::plain(&v["path"]), show::plain(&v["value"]));
        }
        What::State { json } => {
            let v = client.send("GET", "/api/v1/state", None)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                print!("{}", show::summary(&v));
            }
        }
        What::Watch { topic, rate } => client.watch(topic, *rate)?,
        What::Scene {
            action,
            name,
            fade_ms,
        } => {
            let name_of = || {
                name.as_deref().ok_or_else(|| Failure::Refused {
                    code: "bad_request".into(),
                    message: format!("`scene {action}` needs a scene name"),
                })
            };
            let v = match action.as_str() {
                "list" => {
                    let v = client.send("GET", "/api/v1/scenes", None)?;
                    for s in v["scenes"].as_array().into_iter().flatten() {
                        println!("{}", show::plain(s));
                    }
                    return Ok(());
                }
                "save" => client.send(
                    "PUT",
                    &format!("/api/v1/scenes/{}", http::percent(name_of()?)),
                    None,
                )?,
                "recall" => client.send(
                    "POST",
                    &format!("/api/v1/scenes/{}/recall", http::percent(name_of()?)),
                    Some(&json!({ "fade_ms": fade_ms })),
                )?,
                _ => client.send(
                    "DELETE",
                    &format!("/api/v1/scenes/{}", http::percent(name_of()?)),
                    None,
                )?,
            };
            println!("{}", show::plain(&v["done"]));
        }
        What::Midi { path, timeout, .. } => learn(client, path, *timeout)?,
        What::Macro { name } => println!(
            "{}",
            show::plain(
                &client.send(
                    "POST",
                    &format!("/api/v1/macros/{}", http::percent(name)),
                    None
                )?["done"]
            )
        ),
        What::Rec {
            action,
            label,
            json,
        } => {
            let request = match action.as_str() {
                "start" => serde_json::json!({ "op": "recorder_start" }),
                "stop" => serde_json::json!({ "op": "recorder_stop" }),
                "pause" => serde_json::json!({ "op": "recorder_pause", "paused": true }),
                "resume" => serde_json::json!({ "op": "recorder_pause", "paused": false }),
                "mark" => serde_json::json!({
                    "op": "recorder_mark",
                    "label": label.clone().unwrap_or_default(),
                }),
                _ => serde_json::json!({ "op": "recorder_status" }),
            };
            let v = client.send("POST", "/api/v1/request", Some(&request))?;
            let r = &v["recorder"];
            if *json {
                println!("{r}");
            } else {
                let take = r["take"].as_str().unwrap_or("-");
                let lost: u64 = r["lost_frames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_u64())
                    .sum();
                match action.as_str() {
                    "mark" => println!("marker at frame {} of {take}", r["marker"]["frame"]),
                    "stop" => println!("stopped: {take} ({} lost frames)", lost),
                    _ => println!(
                        "{}: {take}, {} frames, {lost} lost",
                        show::plain(&r["state"]),
                        r["frames"]
                    ),
                }
            }
        }
        What::Undo => println!(
            "{}",
            show::plain(&client.send("POST", "/api/v1/undo", None)?["done"])
        ),
        What::Redo => println!(
            "{}",
            show::plain(&client.send("POST", "/api/v1/redo", None)?["done"])
        ),
    }
    Ok(())
}

/// `ctl midi learn PATH`: asks, then watches the session's mappings until one for the
/// path appears (or changes).
fn learn(client: &Client, path: &str, timeout: f64) -> Result<(), Failure> {
    let mappings = || -> Result<Vec<Value>, Failure> {
        let v = client.send("GET", "/api/v1/state", None)?;
        Ok(v["state"]["midi"].as_array().cloned().unwrap_or_default())
    };
    let before = mappings()?;
    let v = client.send(
        "POST",
        "/api/v1/request",
        Some(&json!({"op": "midi_learn", "path": path})),
    )?;
    println!("{}", show::plain(&v["done"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(timeout.max(0.0));
    while std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if let Some(new) = mappings()?.into_iter().find(|m| !before.contains(m)) {
            println!(
                "mapped {} to {}",
                serde_json::to_string(&new["control"]).unwrap_or_default(),
                show::plain(&new["target"])
            );
            return Ok(());
        }
    }
    Err(Failure::Refused {
        code: "timeout".into(),
        message: format!("no MIDI control moved within {timeout} s"),
    })
}
