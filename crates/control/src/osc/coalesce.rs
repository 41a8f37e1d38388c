//! Sets made moot in a burst: when datagrams queue up faster than the control thread
//! takes them (a controller streaming a fader), a set followed in the same burst by
//! another set of the same address would be overwritten at once. It is skipped, as the
//! engine skips a command superseded within one callback, so a flood costs the mixer
//! what its last values cost and the last value still wins.

use std::collections::HashSet;
use std::net::SocketAddr;

use rosc::OscMessage;

/// Datagrams taken in one burst at most (read without waiting, after the first).
pub const MAX_BURST: usize = 512;

/// A parameter set that only sets its own address: the kind that may be skipped. A
/// rename is not one (the addresses after it mean something else).
fn plain_set(m: &OscMessage) -> bool {
    (m.addr.starts_with("/strip/") || m.addr.starts_with("/bus/"))
        && m.args.len() == 1
        && !m.addr.ends_with("/name")
}

/// For each message, whether it is superseded: a later set of the same address follows
/// it with nothing but other parameter sets between (a query, a scene, an undo, a
/// subscription or a rename in between keeps everything before it).
pub(super) fn superseded(messages: &[(SocketAddr, OscMessage)]) -> Vec<bool> {
    let mut out = vec![false; messages.len()];
    let mut later: HashSet<&str> = HashSet::new();
    for (i, (_, m)) in messages.iter().enumerate().rev() {
        if plain_set(m) {
            out[i] = !later.insert(m.addr.as_str());
        } else {
            later.clear();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosc::OscType;

    fn set(addr: &str, x: f32) -> (SocketAddr, OscMessage) {
        (
            SocketAddr::from(([127, 0, 0, 1], 1)),
            OscMessage {
                addr: addr.into(),
                args: vec![OscType::Float(x)],
            },
        )
    }

    fn query(addr: &str) -> (SocketAddr, OscMessage) {
        let (peer, mut m) = set(addr, 0.0);
        m.args.clear();
        (peer, m)
    }

    #[test]
    fn only_sets_followed_by_a_set_of_the_same_address_are_skipped() {
        let burst = [
            set("/strip/1/fader_db", -1.0),
            set("/strip/2/fader_db", -1.0),
            set("/strip/1/fader_db", -2.0),
            query("/strip/1/fader_db"),
            set("/strip/1/fader_db", -3.0),
            set("/strip/1/name", 0.0),
            set("/strip/1/fader_db", -4.0),
            set("/strip/1/fader_db", -5.0),
        ];
        assert_eq!(
            superseded(&burst),
            [true, false, false, false, false, false, true, false]
        );
    }
}
