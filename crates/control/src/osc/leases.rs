//! Who receives what, for how long: X32-style leases. `/subscribe` and `/meters` grant a
//! sender changes or meter frames for [`LEASE`]; sending them again renews it. Meter
//! frames are folded per subscriber, so two rates never steal each other's peaks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rosc::{OscMessage, OscType};

use crate::event::{MeterAccumulator, MeterSample};

/// How long a subscription lives without being renewed.
pub const LEASE: Duration = Duration::from_secs(10);

/// Subscribers of each kind at most: a flood of senders cannot grow the tables.
pub const MAX_SUBSCRIBERS: usize = 64;

/// Meter frames per second a subscriber may ask for.
pub const METER_RATES: std::ops::RangeInclusive<f64> = 1.0..=120.0;

struct ChangeLease {
    until: Instant,
    prefix: String,
}

struct MeterLease {
    until: Instant,
    every: Duration,
    next: Instant,
    frames: i32,
    acc: MeterAccumulator,
}

/// The live subscriptions.
#[derive(Default)]
pub(super) struct Leases {
    changes: HashMap<SocketAddr, ChangeLease>,
    meters: HashMap<SocketAddr, MeterLease>,
}

impl Leases {
    /// Grants or renews `peer` changes under `prefix`.
    pub fn subscribe(
        &mut self,
        peer: SocketAddr,
        prefix: String,
        now: Instant,
    ) -> Result<(), String> {
        if !self.changes.contains_key(&peer) && self.changes.len() >= MAX_SUBSCRIBERS {
            return Err(format!("{MAX_SUBSCRIBERS} senders are subscribed already"));
        }
        self.changes.insert(
            peer,
            ChangeLease {
                until: now + LEASE,
                prefix,
            },
        );
        Ok(())
    }

    /// Grants or renews `peer` meter frames at `rate` Hz; a rate of 0 ends them.
    pub fn meters(&mut self, peer: SocketAddr, rate: f64, now: Instant) -> Result<(), String> {
        if rate == 0.0 {
            self.meters.remove(&peer);
            return Ok(());
        }
        if !METER_RATES.contains(&rate) {
            return Err(format!(
                "a meter rate is {} to {} frames per second (0 stops them), not {rate}",
                METER_RATES.start(),
                METER_RATES.end()
            ));
        }
        let every = Duration::from_secs_f64(1.0 / rate);
        let full = self.meters.len() >= MAX_SUBSCRIBERS;
        match self.meters.get_mut(&peer) {
            Some(lease) => {
                lease.until = now + LEASE;
                lease.every = every;
            }
            None if full => {
                return Err(format!("{MAX_SUBSCRIBERS} senders take meters already"));
            }
            None => {
                self.meters.insert(
                    peer,
                    MeterLease {
                        until: now + LEASE,
                        every,
                        next: now + every,
                        frames: 0,
                        acc: MeterAccumulator::new(),
                    },
                );
            }
        }
        Ok(())
    }

    /// Ends the leases that ran out.
    pub fn expire(&mut self, now: Instant) {
        self.changes.retain(|_, l| l.until > now);
        self.meters.retain(|_, l| l.until > now);
    }

    /// Subscriptions alive, both kinds.
    pub fn count(&self) -> usize {
        self.changes.len() + self.meters.len()
    }

    /// Whether anyone takes changes.
    pub fn any_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Whether anyone takes meters.
    pub fn any_meters(&self) -> bool {
        !self.meters.is_empty()
    }

    /// The subscribers whose prefix covers `address` (whole segments: `/strip/Mic`
    /// covers `/strip/Mic/fader_db`, not `/strip/Mic2/fader_db`).
    pub fn watching<'a>(&'a self, address: &'a str) -> impl Iterator<Item = SocketAddr> + 'a {
        self.changes
            .iter()
            .filter(move |(_, l)| covers(&l.prefix, address))
            .map(|(peer, _)| *peer)
    }

    /// Folds a meter reading into every subscriber's frame.
    pub fn fold(&mut self, sample: &MeterSample) {
        for lease in self.meters.values_mut() {
            lease.acc.fold(sample);
        }
    }

    /// The frames due by `now`, as `/meters` messages, with who gets each.
    pub fn due_frames(&mut self, now: Instant) -> Vec<(SocketAddr, OscMessage)> {
        let mut out = Vec::new();
        for (peer, lease) in &mut self.meters {
            if now < lease.next {
                continue;
            }
            // Keep the cadence, but do not try to catch up on frames a stall skipped.
            lease.next = (lease.next + lease.every).max(now);
            if let Some(frame) = lease.acc.take() {
                lease.frames = lease.frames.wrapping_add(1);
                out.push((*peer, meters_message(lease.frames, &frame)));
            }
        }
        out
    }

    /// The soonest a meter frame is due.
    pub fn next_frame(&self) -> Option<Instant> {
        self.meters.values().map(|l| l.next).min()
    }
}

pub(super) fn covers(prefix: &str, address: &str) -> bool {
    prefix == "/"
        || address == prefix
        || (address.starts_with(prefix)
            && (prefix.ends_with('/') || address[prefix.len()..].starts_with('/')))
}

/// `/meters ,ib FRAME BLOB`. The blob, big-endian as all of OSC: for every strip, then
/// every bus, in mixer order: an int32 channel count N, then N pairs of float32 (peak
/// dBFS, RMS dBFS) of its post-fader meter, −∞ for silence.
pub(super) fn meters_message(frame: i32, sample: &MeterSample) -> OscMessage {
    let mut blob = Vec::new();
    let posts = sample
        .strips
        .iter()
        .map(|s| &s.post)
        .chain(sample.buses.iter().map(|b| &b.post));
    for post in posts {
        blob.extend((post.len() as i32).to_be_bytes());
        for (peak, rms) in post {
            blob.extend(peak.to_be_bytes());
            blob.extend(rms.to_be_bytes());
        }
    }
    OscMessage {
        addr: "/meters".into(),
        args: vec![OscType::Int(frame), OscType::Blob(blob)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::BusSample;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn leases_run_out_unless_renewed() {
        let t0 = Instant::now();
        let mut l = Leases::default();
        l.subscribe(peer(1), "/strip/Mic".into(), t0).unwrap();
        l.subscribe(peer(2), "/".into(), t0).unwrap();
        l.subscribe(peer(1), "/strip/Mic".into(), t0 + Duration::from_secs(5))
            .unwrap();
        l.expire(t0 + LEASE + Duration::from_millis(1));
        assert_eq!(
            l.watching("/strip/Mic/fader_db").collect::<Vec<_>>(),
            vec![peer(1)]
        );
        assert_eq!(l.watching("/strip/Mic2/fader_db").count(), 0);
        assert_eq!(l.count(), 1);
    }

    #[test]
    fn meter_rates_are_checked_and_frames_laid_out() {
        let t0 = Instant::now();
        let mut l = Leases::default();
        assert!(l.meters(peer(1), 500.0, t0).is_err());
        l.meters(peer(1), 10.0, t0).unwrap();
        l.fold(&MeterSample {
            strips: vec![],
            buses: vec![BusSample {
                name: "A1".into(),
                post: vec![(-6.0, f32::NEG_INFINITY)],
                ..Default::default()
            }],
        });
        assert!(l.due_frames(t0).is_empty());
        let frames = l.due_frames(t0 + Duration::from_millis(100));
        assert_eq!(frames.len(), 1);
        let OscType::Blob(blob) = &frames[0].1.args[1] else {
            panic!()
        };
        assert_eq!(&blob[..4], &1i32.to_be_bytes());
        assert_eq!(&blob[4..8], &(-6.0f32).to_be_bytes());
        assert_eq!(&blob[8..12], &f32::NEG_INFINITY.to_be_bytes());
        l.meters(peer(1), 0.0, t0).unwrap();
        assert!(!l.any_meters());
    }
}
