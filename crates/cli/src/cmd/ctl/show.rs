//! How `ctl` prints what the server answers.

use serde_json::Value;

/// A value as a person writes it: text unquoted, numbers and booleans as they are.
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn db(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("{:.1}", n.as_f64().unwrap_or(0.0)),
        other => plain(other),
    }
}

/// The session in a few lines: strips with fader, pan, mute/solo and sends; buses.
pub fn summary(state: &Value) -> String {
    let mut out = String::new();
    let get_db = |o: &Value, k: &str| o.get(k).map_or("0.0".into(), db);
    for s in state["strip"].as_array().into_iter().flatten() {
        let mut flags = String::new();
        if s["mute"] == Value::Bool(true) {
            flags.push_str(" MUTE");
        }
        if s["solo"] == Value::Bool(true) {
            flags.push_str(" SOLO");
        }
        let sends: Vec<String> = s["sends"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(bus, send)| {
                let on = send.get("on") != Some(&Value::Bool(false));
                format!(
                    "{bus} {}{}",
                    get_db(send, "level_db"),
                    if on { "" } else { " off" }
                )
            })
            .collect();
        out.push_str(&format!(
            "strip {:<16} fader {:>6} dB{flags}  sends: {}\n",
            plain(&s["name"]),
            get_db(s, "fader_db"),
            sends.join(", ")
        ));
    }
    for b in state["bus"].as_array().into_iter().flatten() {
        let flags = if b["mute"] == Value::Bool(true) {
            " MUTE"
        } else {
            ""
        };
        out.push_str(&format!(
            "bus   {:<16} fader {:>6} dB{flags}\n",
            plain(&b["name"]),
            get_db(b, "fader_db")
        ));
    }
    out.push_str(&format!("seq {}\n", plain(&state["seq"])));
    out
}

/// One event on one line.
pub fn event(v: &Value) -> String {
    match v["event"].as_str() {
        Some("changed") => format!(
            "#{} {} = {} ({})",
            plain(&v["seq"]),
            plain(&v["path"]),
            plain(&v["value"]),
            plain(&v["origin"])
        ),
        Some("meters") => {
            let mut line = String::from("meters");
            for b in v["buses"].as_array().into_iter().flatten() {
                let peaks: Vec<String> = b["post"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| db(&p[0]))
                    .collect();
                line.push_str(&format!("  {} {}", plain(&b["name"]), peaks.join("/")));
            }
            line
        }
        Some(kind) => match v.get("message") {
            Some(m) => format!("{kind}: {}", plain(m)),
            None => v.to_string(),
        },
        None => v.to_string(),
    }
}
