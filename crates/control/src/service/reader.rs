//! One reader of the engine's meters for every thread that shows them. A reading takes
//! the peaks the engine held since the previous one, so two readers of their own would
//! steal each other's peaks: here every reading, whichever thread takes it, is folded
//! into the frame of every seat. The control thread reads at its own pace (the status
//! line, `/metrics`, the readings OSC leases take) and the API server reads on each
//! meter feed's clock, so a page's meters cost the control thread no wake-ups.

use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use troubadour_engine::{Level, MeterSnapshot, MeterTap};

use crate::event::{BusSample, MeterAccumulator, MeterSample, StripSample};

/// The engine's meters and the frames folded from them.
#[derive(Debug)]
pub(crate) struct MeterReader {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tap: MeterTap,
    /// The last reading, as the engine gives it and as seats fold it: buffers kept
    /// from one reading to the next.
    reading: MeterSnapshot,
    sample: MeterSample,
    /// Each seat's frame in the making; `None` where a seat was given up.
    seats: Vec<Option<MeterAccumulator>>,
    /// Frames of silence each strip's file player played since the control thread
    /// last looked (by strip name), whichever thread read them.
    underruns: Vec<(String, u64)>,
}

/// A place at the reader: the frame of everything read since this seat's last take.
/// Dropping it gives the place up.
#[derive(Debug)]
pub(crate) struct MeterSeat {
    reader: Arc<MeterReader>,
    index: usize,
}

impl MeterReader {
    pub(crate) fn new(tap: MeterTap) -> Arc<Self> {
        Arc::new(MeterReader {
            state: Mutex::new(State {
                tap,
                reading: MeterSnapshot {
                    strips: Vec::new(),
                    buses: Vec::new(),
                },
                sample: MeterSample::default(),
                seats: Vec::new(),
                underruns: Vec::new(),
            }),
        })
    }

    /// Only non-audio threads take the lock, each for one reading. A thread that
    /// panicked holding it left whole frames (each fold completes or was not begun
    /// on the values a frame shows), so carry on.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The lock if no other thread holds it now.
    fn try_lock(&self) -> Option<MutexGuard<'_, State>> {
        match self.state.try_lock() {
            Ok(state) => Some(state),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// A new seat, its frame empty until the next reading.
    pub(crate) fn seat(self: &Arc<Self>) -> MeterSeat {
        let mut state = self.lock();
        let index = match state.seats.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                state.seats.push(None);
                state.seats.len() - 1
            }
        };
        state.seats[index] = Some(MeterAccumulator::new());
        MeterSeat {
            reader: Arc::clone(self),
            index,
        }
    }

    /// Reads the meters now, into every seat's frame.
    pub(crate) fn read(&self) {
        self.lock().read();
    }

    /// How many seats are taken.
    #[cfg(test)]
    pub(crate) fn seats(&self) -> usize {
        self.lock().seats.iter().flatten().count()
    }

    /// The strips whose file player ran dry since the last call, with the frames of
    /// silence each played.
    pub(crate) fn take_underruns(&self) -> Vec<(String, u64)> {
        std::mem::take(&mut self.lock().underruns)
    }
}

impl State {
    fn read(&mut self) {
        self.tap.read_into(&mut self.reading);
        for s in self.reading.strips.iter().filter(|s| s.underrun_frames > 0) {
            match self.underruns.iter_mut().find(|(name, _)| *name == s.name) {
                Some((_, frames)) => *frames += s.underrun_frames,
                None => self.underruns.push((s.name.clone(), s.underrun_frames)),
            }
        }
        fill(&mut self.sample, &self.reading);
        for seat in self.seats.iter_mut().flatten() {
            seat.fold(&self.sample);
        }
    }
}

impl MeterSeat {
    /// The frame since this seat's last take (None if nothing was read since).
    pub(crate) fn take(&self) -> Option<MeterSample> {
        self.reader.lock().seats[self.index].as_mut()?.take()
    }

    /// Reads the meters now and gives `f` of this seat's frame, which holds that
    /// reading and whatever other threads read since this seat's last frame. The frame
    /// stays in place for the next (no copy, no allocation while the structure stays).
    ///
    /// None, without waiting, while another thread reads: the server's one thread must
    /// not stall every connection behind a control thread that was preempted holding
    /// the lock. The next frame holds the peaks of both readings.
    pub(crate) fn read_and_look<R>(&self, f: impl FnOnce(&MeterSample) -> R) -> Option<R> {
        let mut state = self.reader.try_lock()?;
        state.read();
        state.seats[self.index].as_mut()?.look(f)
    }
}

impl Drop for MeterSeat {
    fn drop(&mut self) {
        self.reader.lock().seats[self.index] = None;
    }
}

/// `sample` made the reading, as subscribers fold it, in the buffers it has.
fn fill(sample: &mut MeterSample, reading: &MeterSnapshot) {
    let pairs = |into: &mut Vec<(f32, f32)>, levels: &[Level]| {
        into.clear();
        into.extend(levels.iter().map(|l| (l.peak_db, l.rms_db)));
    };
    sample
        .strips
        .resize_with(reading.strips.len(), StripSample::default);
    for (s, r) in sample.strips.iter_mut().zip(&reading.strips) {
        s.name.clone_from(&r.name);
        pairs(&mut s.pre, &r.pre);
        pairs(&mut s.post, &r.post);
        s.gate_db = r.gate_reduction_db;
        s.compressor_db = r.compressor_reduction_db;
    }
    sample
        .buses
        .resize_with(reading.buses.len(), BusSample::default);
    for (b, r) in sample.buses.iter_mut().zip(&reading.buses) {
        b.name.clone_from(&r.name);
        pairs(&mut b.post, &r.post);
        b.compressor_db = r.compressor_reduction_db;
        b.limiter_db = r.limiter_reduction_db;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use troubadour_engine::{EngineOptions, create, session};

    fn mixer() -> (troubadour_engine::Controller, troubadour_engine::Engine) {
        let text = "version = 1\n[[strip]]\nname = \"Tone\"\nsource = { generator = \"sine\", level_db = -6.0 }\nsends = { A1 = {} }\n[[bus]]\nname = \"A1\"\n";
        let loaded = session::parse(text, "t.toml".as_ref()).unwrap();
        create(&loaded, &EngineOptions::default()).unwrap()
    }

    fn run(engine: &mut troubadour_engine::Engine, frames: usize) {
        let (mut l, mut r) = (vec![0.0; frames], vec![0.0; frames]);
        engine.process(&[], &mut [&mut l, &mut r], frames);
    }

    fn bus_peak(frame: &MeterSample) -> f32 {
        frame.buses[0].post[0].0
    }

    /// A peak read by one seat's thread reaches every other seat's next frame: no
    /// reader steals it.
    #[test]
    fn every_seat_sees_every_reading_whoever_reads() {
        let (control, mut engine) = mixer();
        let reader = MeterReader::new(control.meter_tap().clone());
        let (a, b) = (reader.seat(), reader.seat());
        assert_eq!(a.take(), None, "nothing read yet");
        run(&mut engine, 480);
        let loud = a.read_and_look(bus_peak).expect("a frame");
        assert!(loud > -20.0 && loud < 0.0, "{loud} dBFS");
        // `b` did not read, yet holds the same peak; a fresh reading has none.
        assert_eq!(bus_peak(&b.take().expect("b's frame")), loud);
        assert_eq!(b.take(), None);
        assert_eq!(a.read_and_look(bus_peak), Some(f32::NEG_INFINITY));
        assert_eq!(a.take(), None, "looked at already");
        // A seat given up is not folded into, and its place is reused.
        drop(b);
        let c = reader.seat();
        assert_eq!(c.take(), None);
        run(&mut engine, 480);
        reader.read();
        let again = bus_peak(&c.take().expect("c's frame"));
        assert!((again - loud).abs() < 0.5, "{again} against {loud}");
        assert_eq!(bus_peak(&a.take().expect("a's frame")), again);
    }
}
