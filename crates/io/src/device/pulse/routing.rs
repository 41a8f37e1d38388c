//! App routing on PulseAudio: playback streams whose `application.name` or
//! `application.process.binary` matches an `app =` strip's pattern (a regex,
//! case-insensitive, unanchored) are moved onto that strip's null sink, those playing
//! at the start and those that start later (a thread waits for the server's
//! new-stream events on a connection of its own). When the mixer stops, the null sink
//! is unloaded and the server moves its streams to the default sink.

use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

use regex::{Regex, RegexBuilder};
use troubadour_engine::session::{Session, Source, virtual_node_name};

use super::client::{Client, Stream};

/// One strip's rule: streams matching `pattern` go to the sink `sink`.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    pattern: Regex,
    sink: String,
}

/// The `app =` strips' rules, in strip order (the first strip that matches takes it).
pub(super) fn rules(session: &Session) -> Result<Vec<Rule>, String> {
    session
        .strips
        .iter()
        .filter_map(|s| match &s.source {
            Source::App(p) => Some((s, p)),
            _ => None,
        })
        .map(|(s, p)| {
            let pattern = RegexBuilder::new(p)
                .case_insensitive(true)
                .build()
                .map_err(|e| format!("strip \"{}\": app = \"{p}\": {e}", s.name))?;
            Ok(Rule {
                pattern,
                sink: virtual_node_name(&s.name),
            })
        })
        .collect()
}

/// The sink a stream belongs on, if any rule matches it.
fn target<'a>(rules: &'a [Rule], stream: &Stream) -> Option<&'a str> {
    rules
        .iter()
        .find(|r| {
            [&stream.application, &stream.binary]
                .into_iter()
                .flatten()
                .any(|name| r.pattern.is_match(name))
        })
        .map(|r| r.sink.as_str())
}

/// Moves every matching stream not yet on its strip's sink; returns how many moved.
fn move_matching(c: &mut Client, rules: &[Rule]) -> Result<usize, String> {
    let sinks = c.sinks()?;
    let mut moved = 0;
    for stream in c.streams()? {
        let Some(sink) = target(rules, &stream) else {
            continue;
        };
        let here = sinks
            .iter()
            .any(|(i, n)| *i == stream.sink && n.as_str() == sink);
        if !here {
            c.move_stream(stream.index, sink)?;
            moved += 1;
        }
    }
    Ok(moved)
}

/// The thread that moves streams as they start.
#[derive(Debug)]
pub(super) struct Router {
    closer: UnixStream,
    thread: JoinHandle<()>,
}

impl Router {
    /// Moves the matching streams playing now and starts watching for new ones; `None`
    /// if the session has no `app =` strip. Also returns how many streams it moved.
    pub(super) fn start(session: &Session) -> Result<Option<(Router, usize)>, String> {
        let rules = rules(session)?;
        if rules.is_empty() {
            return Ok(None);
        }
        let mut events = Client::connect("troubadour (app routing events)")?;
        events.subscribe_streams()?;
        events.wait_forever()?;
        let mut commands = Client::connect("troubadour (app routing)")?;
        // Subscribed first: a stream that starts between the two steps is not missed.
        let moved = move_matching(&mut commands, &rules)?;
        let closer = events.closer()?;
        let thread = std::thread::Builder::new()
            .name("troubadour-pulse-apps".into())
            .spawn(move || {
                // Ends when `stop` shuts the socket down (or the server goes away).
                while let Ok(event) = events.next_stream_event() {
                    if event.is_some() {
                        // A stream that ended before it could be moved is no failure.
                        let _ = move_matching(&mut commands, &rules);
                    }
                }
            })
            .map_err(|e| format!("cannot start the app routing thread: {e}"))?;
        Ok(Some((Router { closer, thread }, moved)))
    }

    /// Stops watching.
    pub(super) fn stop(self) {
        let _ = self.closer.shutdown(Shutdown::Both);
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(application: Option<&str>, binary: Option<&str>) -> Stream {
        Stream {
            index: 1,
            sink: 0,
            application: application.map(Into::into),
            binary: binary.map(Into::into),
        }
    }

    #[test]
    fn patterns_are_case_insensitive_unanchored_and_the_first_strip_wins() {
        let mut s = Session::default_session();
        s.strips[0].source = Source::App("fire".into());
        s.strips[1].source = Source::App("firefox|game".into());
        let rules = rules(&s).unwrap();
        let first = virtual_node_name(&s.strips[0].name);
        let second = virtual_node_name(&s.strips[1].name);
        assert_eq!(
            target(&rules, &stream(Some("Firefox"), None)),
            Some(first.as_str())
        );
        assert_eq!(
            target(&rules, &stream(Some("x"), Some("supergame"))),
            Some(second.as_str())
        );
        assert_eq!(target(&rules, &stream(Some("mpv"), Some("mpv"))), None);
        assert_eq!(target(&rules, &stream(None, None)), None);
    }
}
