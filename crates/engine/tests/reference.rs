//! Random sessions and random parameter scripts, checked sample by sample against a
//! naive reference mixer written from the specification in f64.

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use troubadour_engine::session::{
    Bus, BusSend, GeneratorKind, LoadedSession, Session, Source, Strip,
};
use troubadour_engine::{EngineOptions, create};

const RAMP: u32 = 480; // 10 ms at 48 kHz

/// The specification's laws, written here rather than taken from the implementation.
///
/// Decibels to linear gain: 10^(dB/20), with -inf dB exactly silence.
fn db_to_gain(db: f32) -> f64 {
    if db == f32::NEG_INFINITY {
        0.0
    } else {
        10f64.powf(f64::from(db) / 20.0)
    }
}

/// Mono onto stereo, constant power: the pan position -1 ..= 1 sweeps the angle
/// θ = (pan + 1)·π/4 from 0 to π/2; left = cos θ, right = sin θ.
fn pan_law(pan: f32) -> (f64, f64) {
    let theta = (f64::from(pan.clamp(-1.0, 1.0)) + 1.0) * std::f64::consts::FRAC_PI_4;
    (theta.cos(), theta.sin())
}

/// Stereo balance: the side leaned to stays at unity, the other falls as
/// cos(|balance|·π/2), to silence at the extreme; centre is unity on both sides.
fn balance_law(balance: f32) -> (f64, f64) {
    let b = f64::from(balance.clamp(-1.0, 1.0));
    let far = (b.abs() * std::f64::consts::FRAC_PI_2).cos();
    if b > 0.0 {
        (far, 1.0)
    } else if b < 0.0 {
        (1.0, far)
    } else {
        (1.0, 1.0)
    }
}

/// The specification's ramp: after a new target, sample k (1-based) of the glide is
/// `start + (target - start) * k / len`; it then holds the target.
#[derive(Clone, Copy, Debug)]
struct Ramp {
    start: f64,
    target: f64,
    pos: u32,
}

impl Ramp {
    fn new(v: f64) -> Self {
        Ramp {
            start: v,
            target: v,
            pos: RAMP,
        }
    }
    fn value(&self) -> f64 {
        if self.pos >= RAMP {
            self.target
        } else {
            self.start + (self.target - self.start) * f64::from(self.pos) / f64::from(RAMP)
        }
    }
    fn set(&mut self, t: f64) {
        if t != self.target {
            self.start = self.value();
            self.target = t;
            self.pos = 0;
        }
    }
    fn next(&mut self) -> f64 {
        if self.pos < RAMP {
            self.pos += 1;
        }
        self.value()
    }
}

#[derive(Debug, Clone)]
enum Change {
    Trim(usize, f32),
    Fader(usize, f32),
    Pan(usize, f32),
    Mute(usize, bool),
    Solo(usize, bool),
    Send(usize, usize, BusSend),
    BusFader(usize, f32),
    BusMute(usize, bool),
}

fn level_db() -> impl Strategy<Value = f32> {
    prop_oneof![1 => Just(f32::NEG_INFINITY), 6 => -40.0f32..12.0]
}

fn send() -> impl Strategy<Value = BusSend> {
    (level_db(), any::<bool>(), prop::bool::weighted(0.85)).prop_map(|(level_db, pre_fader, on)| {
        BusSend {
            level_db,
            pre_fader,
            on,
        }
    })
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0usize..4, -12.0f32..12.0).prop_map(|(i, d)| Change::Trim(i, d)),
        (0usize..4, level_db()).prop_map(|(i, d)| Change::Fader(i, d)),
        (0usize..4, -1.0f32..=1.0).prop_map(|(i, p)| Change::Pan(i, p)),
        (0usize..4, any::<bool>()).prop_map(|(i, b)| Change::Mute(i, b)),
        (0usize..4, any::<bool>()).prop_map(|(i, b)| Change::Solo(i, b)),
        (0usize..4, 0usize..3, send()).prop_map(|(i, b, s)| Change::Send(i, b, s)),
        (0usize..3, level_db()).prop_map(|(i, d)| Change::BusFader(i, d)),
        (0usize..3, any::<bool>()).prop_map(|(i, b)| Change::BusMute(i, b)),
    ]
}

#[allow(clippy::type_complexity)]
fn session() -> impl Strategy<Value = Session> {
    let strip = (
        1u16..=2,
        -12.0f32..12.0,
        level_db(),
        -1.0f32..=1.0,
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.15),
        prop::collection::vec(prop::option::weighted(0.7, send()), 3),
    );
    let bus = (1u16..=2, level_db(), prop::bool::weighted(0.1));
    (
        prop::collection::vec(strip, 1..=4),
        prop::collection::vec(bus, 1..=3),
    )
        .prop_map(|(strips, buses)| {
            let buses: Vec<Bus> = buses
                .into_iter()
                .enumerate()
                .map(|(i, (channels, fader_db, mute))| Bus {
                    name: format!("B{i}"),
                    channels,
                    fader_db,
                    mute,
                    sink: None,
                    eq: vec![],
                    compressor: None,
                    limiter: None,
                    recall_safe: false,
                })
                .collect();
            let n_buses = buses.len();
            let strips = strips
                .into_iter()
                .enumerate()
                .map(
                    |(i, (channels, gain_db, fader_db, pan, mute, solo, sends))| Strip {
                        name: format!("S{i}"),
                        source: Source::Device(format!("in_{i}")),
                        channels,
                        gain_db,
                        fader_db,
                        pan,
                        mute,
                        solo,
                        gate: None,
                        eq: vec![],
                        compressor: None,
                        sends: sends
                            .into_iter()
                            .enumerate()
                            .take(n_buses)
                            .filter_map(|(b, s)| s.map(|s| (format!("B{b}"), s)))
                            .collect::<BTreeMap<_, _>>(),
                        recall_safe: false,
                    },
                )
                .collect();
            Session {
                version: 1,
                sample_rate: 48_000,
                block_frames: 256,
                strips,
                buses,
                scenes: Vec::new(),
                midi: Vec::new(),
                macros: Vec::new(),
                recorder: None,
            }
        })
}

/// The reference mixer's state, straight from the specification.
struct Reference {
    session: Session,
    trim: Vec<Ramp>,
    on: Vec<Ramp>,
    fader: Vec<Ramp>,
    /// (strip, bus) -> per route coefficient ramps, in route order.
    coef: BTreeMap<(usize, usize), Vec<Ramp>>,
    bus_on: Vec<Ramp>,
    bus_fader: Vec<Ramp>,
}

/// (strip channel, bus channel, gain law) of each route, per the mapping rules.
fn routes(strip_ch: u16, bus_ch: u16, pan: f32) -> Vec<(usize, usize, f64)> {
    match (strip_ch, bus_ch) {
        (1, 1) => vec![(0, 0, 1.0)],
        (1, 2) => vec![(0, 0, pan_law(pan).0), (0, 1, pan_law(pan).1)],
        (2, 1) => vec![
            (0, 0, 0.5 * balance_law(pan).0),
            (1, 0, 0.5 * balance_law(pan).1),
        ],
        (2, 2) => vec![(0, 0, balance_law(pan).0), (1, 1, balance_law(pan).1)],
        _ => unreachable!(),
    }
}

impl Reference {
    fn new(session: Session) -> Self {
        let mut r = Reference {
            trim: session
                .strips
                .iter()
                .map(|s| Ramp::new(db_to_gain(s.gain_db)))
                .collect(),
            on: vec![Ramp::new(0.0); session.strips.len()],
            fader: session
                .strips
                .iter()
                .map(|s| Ramp::new(db_to_gain(s.fader_db)))
                .collect(),
            coef: BTreeMap::new(),
            bus_on: session
                .buses
                .iter()
                .map(|b| Ramp::new(if b.mute { 0.0 } else { 1.0 }))
                .collect(),
            bus_fader: session
                .buses
                .iter()
                .map(|b| Ramp::new(db_to_gain(b.fader_db)))
                .collect(),
            session,
        };
        for (i, s) in r.session.strips.iter().enumerate() {
            for (name, send) in &s.sends {
                let b = r.session.bus_index(name).unwrap();
                let targets = Self::targets(s, send, r.session.buses[b].channels);
                r.coef
                    .insert((i, b), targets.into_iter().map(Ramp::new).collect());
            }
        }
        let audible = r.audible();
        for (ramp, a) in r.on.iter_mut().zip(audible) {
            *ramp = Ramp::new(a);
        }
        r
    }

    fn targets(s: &Strip, send: &BusSend, bus_ch: u16) -> Vec<f64> {
        routes(s.channels, bus_ch, s.pan)
            .into_iter()
            .map(|(_, _, law)| {
                if send.on {
                    db_to_gain(send.level_db) * law
                } else {
                    0.0
                }
            })
            .collect()
    }

    fn audible(&self) -> Vec<f64> {
        let any_solo = self.session.strips.iter().any(|s| s.solo);
        self.session
            .strips
            .iter()
            .map(|s| {
                if !s.mute && (!any_solo || s.solo) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect()
    }

    fn retarget(&mut self) {
        let audible = self.audible();
        for (ramp, a) in self.on.iter_mut().zip(audible) {
            ramp.set(a);
        }
        for ((i, b), ramps) in self.coef.iter_mut() {
            let s = &self.session.strips[*i];
            let bus = &self.session.buses[*b];
            let send = &s.sends[&bus.name];
            for (ramp, t) in ramps.iter_mut().zip(Self::targets(s, send, bus.channels)) {
                ramp.set(t);
            }
        }
        for (i, s) in self.session.strips.iter().enumerate() {
            self.trim[i].set(db_to_gain(s.gain_db));
            self.fader[i].set(db_to_gain(s.fader_db));
        }
        for (i, b) in self.session.buses.iter().enumerate() {
            self.bus_on[i].set(if b.mute { 0.0 } else { 1.0 });
            self.bus_fader[i].set(db_to_gain(b.fader_db));
        }
    }

    /// One frame: `input` per device channel in strip order; returns every bus channel.
    fn frame(&mut self, input: &[f32]) -> Vec<f64> {
        let bus_first: Vec<usize> = self
            .session
            .buses
            .iter()
            .scan(0, |acc, b| {
                let first = *acc;
                *acc += usize::from(b.channels);
                Some(first)
            })
            .collect();
        let total: usize = self
            .session
            .buses
            .iter()
            .map(|b| usize::from(b.channels))
            .sum();
        let mut sums = vec![0.0f64; total];
        let mut next_in = 0;
        for (i, s) in self.session.strips.iter().enumerate() {
            let trim = self.trim[i].next();
            let x: Vec<f64> = (0..usize::from(s.channels))
                .map(|c| f64::from(input[next_in + c]) * trim)
                .collect();
            next_in += usize::from(s.channels);
            let pre = self.on[i].next();
            let post = pre * self.fader[i].next();
            for (name, send) in &s.sends {
                let b = self.session.bus_index(name).unwrap();
                let tap = if send.pre_fader { pre } else { post };
                let ramps = self.coef.get_mut(&(i, b)).unwrap();
                for ((src, dst, _), ramp) in
                    routes(s.channels, self.session.buses[b].channels, s.pan)
                        .into_iter()
                        .zip(ramps.iter_mut())
                {
                    sums[bus_first[b] + dst] += x[src] * tap * ramp.next();
                }
            }
        }
        for (b, bus) in self.session.buses.iter().enumerate() {
            let g = self.bus_on[b].next() * self.bus_fader[b].next();
            for c in 0..usize::from(bus.channels) {
                sums[bus_first[b] + c] *= g;
            }
        }
        sums
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_the_reference_mixer(session in session(), script in prop::collection::vec((1usize..700, prop::option::weighted(0.8, change())), 1..12), seed in any::<u64>()) {
        let loaded = LoadedSession { session: session.clone(), path: "p.toml".into(), base_dir: ".".into(), warnings: vec![] };
        let (mut control, mut engine) = create(&loaded, &EngineOptions::default()).unwrap();
        let mut reference = Reference::new(session.clone());
        let inputs = engine.input_channels();
        let mut rng = troubadour_dsp::rng::Rng::new(seed);
        for (frames, change) in script {
            if let Some(change) = change {
                let s = &control.session().strips;
                let (ns, nb) = (s.len(), control.session().buses.len());
                let name = |i: usize| format!("S{}", i % ns);
                let bus = |i: usize| format!("B{}", i % nb);
                let result = match change {
                    Change::Trim(i, d) => control.set_strip_trim(&name(i), d),
                    Change::Fader(i, d) => control.set_strip_fader(&name(i), d),
                    Change::Pan(i, p) => control.set_strip_pan(&name(i), p),
                    Change::Mute(i, m) => control.set_strip_mute(&name(i), m),
                    Change::Solo(i, m) => control.set_strip_solo(&name(i), m),
                    Change::Send(i, b, send) => control.set_send(&name(i), &bus(b), send),
                    Change::BusFader(i, d) => control.set_bus_fader(&bus(i), d),
                    Change::BusMute(i, m) => control.set_bus_mute(&bus(i), m),
                };
                // A send that does not exist is refused; everything else must be taken.
                if let Err(e) = &result {
                    prop_assert!(matches!(e, troubadour_engine::ControlError::UnknownSend { .. }), "{e}");
                }
                reference.session = control.session().clone();
                reference.retarget();
            }
            let input: Vec<Vec<f32>> = (0..inputs).map(|_| (0..frames).map(|_| rng.next_bipolar()).collect()).collect();
            let out = common::run(&mut engine, &input, frames, frames);
            for f in 0..frames {
                let frame: Vec<f32> = input.iter().map(|c| c[f]).collect();
                let want = reference.frame(&frame);
                for (ch, w) in want.iter().enumerate() {
                    let got = f64::from(out[ch][f]);
                    prop_assert!((got - w).abs() <= 1e-5, "bus channel {} frame {}: engine {} reference {}", ch, f, got, w);
                }
            }
        }
    }
}

#[test]
fn generators_are_not_device_inputs() {
    // Guard for the reference's assumption: only device sources consume input channels.
    let mut s = Session::default_session();
    s.strips[0].source = Source::Generator(troubadour_engine::session::GeneratorSource {
        kind: GeneratorKind::Silence,
        freq: 1.0,
        level_db: 0.0,
        seed: None,
        interval_ms: 1.0,
    });
    let loaded = LoadedSession {
        session: s,
        path: "p.toml".into(),
        base_dir: ".".into(),
        warnings: vec![],
    };
    let (_c, e) = create(&loaded, &EngineOptions::default()).unwrap();
    assert_eq!(e.input_channels(), 0);
}

/// The reference's own laws at interior positions, by hand, so a wrong law written into
/// both the engine and the reference would still be caught; and the engine at the same
/// positions, measured with DC through a mono strip onto a stereo bus (pan) and a stereo
/// strip onto a stereo bus (balance).
#[test]
fn pan_and_balance_laws_hold_in_the_interior() {
    // pan -> θ = (pan + 1)·π/4: -0.5 -> π/8, 0 -> π/4, 0.25 -> 5π/16, 0.5 -> 3π/8.
    // cos π/8 = √(2 + √2)/2 = 0.9238795, sin π/8 = √(2 − √2)/2 = 0.3826834;
    // cos 5π/16 = 0.5555702, sin 5π/16 = 0.8314696.
    let half = std::f64::consts::FRAC_1_SQRT_2;
    let pans = [
        (-1.0, 1.0, 0.0),
        (-0.5, 0.923_879_5, 0.382_683_4),
        (0.0, half, half),
        (0.25, 0.555_570_2, 0.831_469_6),
        (0.5, 0.382_683_4, 0.923_879_5),
        (1.0, 0.0, 1.0),
    ];
    // balance -> the far side at cos(|b|·π/2): 0.5 -> cos π/4, -0.25 -> cos π/8.
    let balances = [
        (-1.0, 1.0, 0.0),
        (-0.25, 1.0, 0.923_879_5),
        (0.0, 1.0, 1.0),
        (0.5, half, 1.0),
        (0.75, 0.382_683_4, 1.0),
        (1.0, 0.0, 1.0),
    ];
    for &(pan, l, r) in &pans {
        let (gl, gr) = pan_law(pan);
        assert!(
            (gl - l).abs() < 1e-7 && (gr - r).abs() < 1e-7,
            "pan {pan}: {gl} {gr}"
        );
    }
    for &(balance, l, r) in &balances {
        let (gl, gr) = balance_law(balance);
        assert!(
            (gl - l).abs() < 1e-7 && (gr - r).abs() < 1e-7,
            "balance {balance}: {gl} {gr}"
        );
    }

    let text = |channels: u16| {
        let ports = if channels == 1 {
            "system:capture_1"
        } else {
            "system:capture_1,system:capture_2"
        };
        format!(
            r#"
version = 1
block_frames = 256
[[strip]]
name = "In"
channels = {channels}
source = {{ device = "{ports}" }}
sends = {{ A1 = {{}} }}
[[bus]]
name = "A1"
channels = 2
"#
        )
    };
    for (channels, table, what) in [(1u16, &pans, "pan"), (2, &balances, "balance")] {
        let (mut c, mut e) = common::mixer(&text(channels));
        for &(pos, l, r) in table {
            c.set_strip_pan("In", pos).unwrap();
            // Past the 10 ms glide, then the settled gains on DC.
            let out = common::run(
                &mut e,
                &common::dc(usize::from(channels), 1024, 1.0),
                1024,
                256,
            );
            let (gl, gr) = (f64::from(out[0][1023]), f64::from(out[1][1023]));
            assert!(
                (gl - l).abs() < 1e-6 && (gr - r).abs() < 1e-6,
                "{what} {pos}: engine ({gl}, {gr}), law ({l}, {r})"
            );
        }
    }
}
