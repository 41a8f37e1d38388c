//! What changed between two sessions of the same structure, as the commands that tell
//! the audio side: the control side's diff, run for every live edit that needs no
//! rebuild.

use troubadour_dsp::gain::db_to_gain;

use crate::command::{Command, Target};
use crate::graph::processors;
use crate::session::{self, BusSend, Session};

/// The same source for a running strip to carry on with: a file's `loop` is no part
/// of it (it is the player's transport, changed live without a new stream).
pub(crate) fn same_source(a: &session::Source, b: &session::Source) -> bool {
    match (a, b) {
        (session::Source::File { path: x, .. }, session::Source::File { path: y, .. }) => x == y,
        _ => a == b,
    }
}

pub(crate) fn structure_equal(a: &Session, b: &Session) -> bool {
    a.version == b.version
        && a.sample_rate == b.sample_rate
        && a.block_frames == b.block_frames
        && a.strips.len() == b.strips.len()
        && a.buses.len() == b.buses.len()
        && a.strips.iter().zip(&b.strips).all(|(x, y)| {
            x.name == y.name
                && x.channels == y.channels
                && same_source(&x.source, &y.source)
                && x.gate.is_some() == y.gate.is_some()
                && same_eq_shape(&x.eq, &y.eq)
                && x.compressor.as_ref().map(|c| &c.sidechain)
                    == y.compressor.as_ref().map(|c| &c.sidechain)
                && x.sends.keys().eq(y.sends.keys())
        })
        && a.buses.iter().zip(&b.buses).all(|(x, y)| {
            x.name == y.name
                && x.channels == y.channels
                && x.sink == y.sink
                && same_eq_shape(&x.eq, &y.eq)
                && x.compressor.is_some() == y.compressor.is_some()
                && x.limiter.map(|l| l.lookahead_ms) == y.limiter.map(|l| l.lookahead_ms)
        })
}

/// Same number of EQ bands of the same types (their settings may differ: they glide).
fn same_eq_shape(a: &[session::EqBand], b: &[session::EqBand]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.kind == y.kind)
}

/// Commands for the processor settings that differ between `old` and `new`.
fn processor_changes(
    target: Target,
    old: (&[session::EqBand], Option<&session::Compressor>),
    new: (&[session::EqBand], Option<&session::Compressor>),
    out: &mut Vec<Command>,
) {
    for (band, (o, n)) in old.0.iter().zip(new.0).enumerate() {
        if o != n {
            out.push(Command::EqBand {
                target,
                band: band as u8,
                params: processors::filter_params(n),
            });
        }
    }
    if let (Some(o), Some(n)) = (old.1, new.1)
        && o != n
    {
        out.push(Command::Compressor {
            target,
            params: processors::compressor_params(n),
        });
    }
}

/// The commands that turn the parameters of `old` into those of `new` (same structure).
pub(crate) fn parameter_changes(old: &Session, new: &Session) -> Vec<Command> {
    let mut out = Vec::new();
    for (i, (o, n)) in old.strips.iter().zip(&new.strips).enumerate() {
        let strip = i as u32;
        if o.gain_db != n.gain_db {
            out.push(Command::StripTrim {
                strip,
                gain: db_to_gain(n.gain_db),
            });
        }
        if o.fader_db != n.fader_db {
            out.push(Command::StripFader {
                strip,
                gain: db_to_gain(n.fader_db),
            });
        }
        if o.pan != n.pan {
            out.push(Command::StripPan { strip, pan: n.pan });
        }
        if o.mute != n.mute {
            out.push(Command::StripMute { strip, on: n.mute });
        }
        if o.solo != n.solo {
            out.push(Command::StripSolo { strip, on: n.solo });
        }
        if let (Some(og), Some(ng)) = (&o.gate, &n.gate)
            && og != ng
        {
            out.push(Command::Gate {
                strip,
                params: processors::gate_params(ng),
            });
        }
        processor_changes(
            Target::Strip(strip),
            (&o.eq, o.compressor.as_ref()),
            (&n.eq, n.compressor.as_ref()),
            &mut out,
        );
        for (bus_name, send) in &n.sends {
            if o.sends.get(bus_name) != Some(send)
                && let Some(bus) = new.bus_index(bus_name)
            {
                out.push(send_command(strip, bus as u32, send));
            }
        }
    }
    for (i, (o, n)) in old.buses.iter().zip(&new.buses).enumerate() {
        let bus = i as u32;
        if o.fader_db != n.fader_db {
            out.push(Command::BusFader {
                bus,
                gain: db_to_gain(n.fader_db),
            });
        }
        if o.mute != n.mute {
            out.push(Command::BusMute { bus, on: n.mute });
        }
        if let (Some(ol), Some(nl)) = (&o.limiter, &n.limiter)
            && ol != nl
        {
            out.push(Command::Limiter {
                bus,
                params: processors::limiter_params(nl),
            });
        }
        processor_changes(
            Target::Bus(bus),
            (&o.eq, o.compressor.as_ref()),
            (&n.eq, n.compressor.as_ref()),
            &mut out,
        );
    }
    out
}

pub(crate) fn send_command(strip: u32, bus: u32, send: &BusSend) -> Command {
    Command::Send {
        strip,
        bus,
        level: db_to_gain(send.level_db),
        on: send.on,
        pre_fader: send.pre_fader,
    }
}
