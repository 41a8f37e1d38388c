//! The session's MIDI targets and macro actions checked against the parameter
//! namespace, located in the file like the session validator's errors.

use troubadour_engine::session::{Action, Diagnostic, LoadedSession, Seg, diagnostic_at};

use crate::namespace;

/// Every mapping target, macro set path and macro scene that names nothing in the
/// loaded session, as errors at their place in its file.
pub fn check(loaded: &LoadedSession) -> Vec<Diagnostic> {
    let session = &loaded.session;
    let text = std::fs::read_to_string(&loaded.path).unwrap_or_default();
    let mut out = Vec::new();
    let mut report = |at: Vec<Seg>, field: String, message: String| {
        out.push(diagnostic_at(&text, &loaded.path, &at, field, message));
    };
    for (i, m) in session.midi.iter().enumerate() {
        let problem = match namespace::resolve(session, &m.target) {
            Ok(r) if !r.template.has_norm() => {
                Some("a name is not something a control can move".to_string())
            }
            Ok(_) => None,
            Err(e) => Some(e.message),
        };
        if let Some(p) = problem {
            report(
                vec!["midi".into(), i.into(), "target".into()],
                format!("midi #{} target", i + 1),
                format!("{}: {p}", m.target),
            );
        }
    }
    for (i, mac) in session.macros.iter().enumerate() {
        for (j, a) in mac.actions.iter().enumerate() {
            let at = |k: &str| {
                vec![
                    "macro".into(),
                    i.into(),
                    "actions".into(),
                    j.into(),
                    k.into(),
                ]
            };
            let field = format!("macro {:?} actions[{j}]", mac.name);
            match a.action() {
                Ok(Action::Set { path, .. }) => {
                    if let Err(e) = namespace::resolve(session, path) {
                        report(at("set"), field, format!("{path}: {}", e.message));
                    }
                }
                Ok(Action::Scene { name, .. }) => {
                    if !session.scenes.iter().any(|s| s.name == name) {
                        report(at("scene"), field, format!("no scene is called {name:?}"));
                    }
                }
                Ok(Action::Recorder { .. }) => {
                    if session
                        .recorder
                        .as_ref()
                        .is_none_or(|r| r.tracks.is_empty())
                    {
                        report(
                            at("recorder"),
                            field,
                            "the session records nothing: add [recorder] with tracks = [...]"
                                .into(),
                        );
                    }
                }
                // The session validator reports malformed actions.
                Err(_) => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_that_names_nothing_is_an_error_at_its_line() {
        let dir =
            std::env::temp_dir().join(format!("troubadour-midi-targets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.toml");
        let text = r#"version = 1
[[strip]]
name = "Mic"
source = { generator = "sine" }

[[midi]]
control = { cc = 7 }
target = "strip/Mic/fader_db"

[[midi]]
control = { cc = 8 }
target = "strip/Voice/fader_db"

[[macro]]
name = "Go"
actions = [{ set = "strip/Mic/fadr_db", value = 1.0 }, { scene = "Live" }]
"#;
        std::fs::write(&path, text).unwrap();
        let loaded = troubadour_engine::session::load(&path).unwrap();
        let d = check(&loaded);
        let shown: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert_eq!(d.len(), 3, "{shown:#?}");
        assert_eq!((d[0].line, d[0].field.as_str()), (12, "midi #2 target"));
        assert!(shown[0].contains("strip/Voice/fader_db"), "{}", shown[0]);
        assert!(
            shown[0].contains("Mic"),
            "names the strips there are: {}",
            shown[0]
        );
        assert_eq!(d[1].line, 16);
        assert!(shown[1].contains("fadr_db"), "{}", shown[1]);
        assert!(
            shown[2].contains("no scene is called \"Live\""),
            "{}",
            shown[2]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
