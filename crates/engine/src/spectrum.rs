//! Spectrum taps: copies of a strip's or bus's signal for an analyser on the control
//! side.
//!
//! The engine holds [`SPECTRUM_SLOTS`] taps, each a preallocated lock-free ring of
//! [`SPECTRUM_RING`] samples and an atomic target. The control side opens a slot on a
//! strip or bus ([`SpectrumBank::open`]); from the next callback on, the audio thread
//! copies that strip's post-fader signal (or the bus as it leaves) into the ring, as one
//! mono channel (the mean of its channels), and the reader drains it. While no slot is
//! open, the audio thread reads one atomic per callback and copies nothing. A full ring
//! drops the block: an analyser wants the newest samples, not every one.
//!
//! The bank outlives engines: when the audio side is rebuilt (a backend lost and back),
//! the new engine gets new rings and the open slots keep their targets.
//!
//! ```
//! use troubadour_engine::{create, session, EngineOptions};
//! use troubadour_engine::spectrum::SpectrumPoint;
//!
//! let text = "version = 1\n[[strip]]\nname = \"Tone\"\nsource = { generator = \"sine\" }\nsends = { A1 = {} }\n[[bus]]\nname = \"A1\"\n";
//! let loaded = session::parse(text, "demo.toml".as_ref()).unwrap();
//! let (control, mut engine) = create(&loaded, &EngineOptions::default()).unwrap();
//! let reader = control.spectrum().open(SpectrumPoint::Strip(0)).unwrap();
//!
//! let (mut left, mut right) = (vec![0.0; 256], vec![0.0; 256]);
//! engine.process(&[], &mut [&mut left, &mut right], 256);
//! let mut samples = Vec::new();
//! reader.read(&mut samples);
//! assert_eq!(samples.len(), 256);
//! ```

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use troubadour_rt::ring::{Consumer, LockFreeRingBuffer, Producer};

use crate::graph::BlockGain;

/// Taps the engine can feed at once.
pub const SPECTRUM_SLOTS: usize = 8;

/// Samples each tap's ring holds: 0.34 s at 48 kHz, several of the analyser's frames,
/// so a control side that is late by a frame loses nothing.
pub const SPECTRUM_RING: usize = 16384;

/// What a tap listens to: a strip post-fader (mute and solo included) or a bus as it
/// leaves, by index in the running graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpectrumPoint {
    /// A strip, by index.
    Strip(u32),
    /// A bus, by index.
    Bus(u32),
}

/// A slot's target as one atomic word: 0 is off.
const OFF: u32 = 0;
const BUS_BIT: u32 = 1 << 31;

impl SpectrumPoint {
    fn encode(self) -> u32 {
        match self {
            SpectrumPoint::Strip(i) => (i & !BUS_BIT) + 1,
            SpectrumPoint::Bus(i) => ((i & !BUS_BIT) + 1) | BUS_BIT,
        }
    }
}

#[derive(Debug)]
struct Slot {
    target: AtomicU32,
    /// The control side's end of this slot's ring; the audio thread never touches it.
    reader: Mutex<Option<Consumer<f32>>>,
}

/// Every spectrum tap: shared by the engine (which reads the targets) and the control
/// side (which sets them and drains the rings).
#[derive(Debug)]
pub struct SpectrumBank {
    slots: Box<[Slot]>,
    /// Slots open now; the audio thread copies nothing while it is 0.
    open: AtomicUsize,
}

impl SpectrumBank {
    /// A bank with every slot closed.
    pub fn new() -> Arc<Self> {
        Arc::new(SpectrumBank {
            slots: (0..SPECTRUM_SLOTS)
                .map(|_| Slot {
                    target: AtomicU32::new(OFF),
                    reader: Mutex::new(None),
                })
                .collect(),
            open: AtomicUsize::new(0),
        })
    }

    /// Control side: fresh rings for a new engine; the readers' ends replace the old
    /// engine's here.
    pub(crate) fn taps(self: &Arc<Self>) -> SpectrumTaps {
        let writers = self
            .slots
            .iter()
            .map(|slot| {
                let (mut tx, rx) = LockFreeRingBuffer::with_capacity(SPECTRUM_RING);
                // So the audio thread's first lap does not write every sample twice.
                tx.initialise();
                *lock(&slot.reader) = Some(rx);
                tx
            })
            .collect();
        SpectrumTaps {
            bank: Arc::clone(self),
            writers,
        }
    }

    /// Control side: opens a free slot on `point`; `None` when all
    /// [`SPECTRUM_SLOTS`] are open. The slot closes when the reader is dropped.
    pub fn open(self: &Arc<Self>, point: SpectrumPoint) -> Option<SpectrumReader> {
        let index = self.slots.iter().position(|slot| {
            slot.target
                .compare_exchange(OFF, point.encode(), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        self.open.fetch_add(1, Ordering::Relaxed);
        let reader = SpectrumReader {
            bank: Arc::clone(self),
            index,
        };
        // What a previous reader of this slot left unread is not this one's signal.
        reader.discard();
        Some(reader)
    }

    /// Slots open now.
    pub fn open_slots(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing holding it panics midway through a change of the ring.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The control side's end of one open slot. Dropping it closes the slot.
#[derive(Debug)]
pub struct SpectrumReader {
    bank: Arc<SpectrumBank>,
    index: usize,
}

impl SpectrumReader {
    fn slot(&self) -> &Slot {
        &self.bank.slots[self.index]
    }

    /// Listens to `point` from the engine's next callback on (after a structural change
    /// moved the strip or bus to another index).
    pub fn retarget(&self, point: SpectrumPoint) {
        if self.slot().target.swap(point.encode(), Ordering::AcqRel) != point.encode() {
            self.discard();
        }
    }

    /// Appends every sample the engine has copied since the last read to `out`.
    pub fn read(&self, out: &mut Vec<f32>) {
        let mut reader = lock(&self.slot().reader);
        let Some(rx) = reader.as_mut() else {
            return;
        };
        let start = out.len();
        out.resize(start + rx.len(), 0.0);
        let n = rx.read(&mut out[start..]);
        out.truncate(start + n);
    }

    /// Drops what the ring holds.
    fn discard(&self) {
        if let Some(rx) = lock(&self.slot().reader).as_mut() {
            while rx.pop().is_some() {}
        }
    }
}

impl Drop for SpectrumReader {
    fn drop(&mut self) {
        self.slot().target.store(OFF, Ordering::Release);
        self.bank.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The engine's end: one ring writer per slot.
#[derive(Debug)]
pub(crate) struct SpectrumTaps {
    bank: Arc<SpectrumBank>,
    writers: Box<[Producer<f32>]>,
}

impl SpectrumTaps {
    /// Audio thread, at the start of a callback: the taps to feed, `None` while no
    /// slot is open (one atomic load, nothing else).
    #[inline]
    pub(crate) fn begin(&mut self) -> Option<&mut Self> {
        (self.bank.open.load(Ordering::Relaxed) > 0).then_some(self)
    }

    /// Audio thread, after strip `strip` was processed: `buf` is its signal before the
    /// fader, `post` its post-fader gain over the block.
    #[inline]
    pub(crate) fn strip(&mut self, strip: u32, buf: &[Box<[f32]>], post: BlockGain<'_>, n: usize) {
        self.feed(SpectrumPoint::Strip(strip).encode(), buf, post, n);
    }

    /// Audio thread, after the buses were processed: `bus(i)` is bus `i`'s output
    /// channels, `None` past the last bus.
    #[inline]
    pub(crate) fn buses<'a>(&mut self, bus: impl Fn(u32) -> Option<&'a [Box<[f32]>]>, n: usize) {
        for (slot, tx) in self.bank.slots.iter().zip(self.writers.iter_mut()) {
            let target = slot.target.load(Ordering::Acquire);
            if target & BUS_BIT == 0 || target == OFF {
                continue;
            }
            if let Some(bufs) = bus((target & !BUS_BIT) - 1) {
                append(tx, bufs, BlockGain::Const(1.0), n);
            }
        }
    }

    #[inline]
    fn feed(&mut self, code: u32, buf: &[Box<[f32]>], gain: BlockGain<'_>, n: usize) {
        for (slot, tx) in self.bank.slots.iter().zip(self.writers.iter_mut()) {
            if slot.target.load(Ordering::Acquire) == code {
                append(tx, buf, gain, n);
            }
        }
    }
}

/// Appends `n` frames of the mean of `bufs` × `gain`; a ring without room for the
/// whole block loses it.
#[inline]
fn append(tx: &mut Producer<f32>, bufs: &[Box<[f32]>], gain: BlockGain<'_>, n: usize) {
    if bufs.is_empty() {
        return;
    }
    let Ok(mut chunk) = tx.write_chunk(n) else {
        return;
    };
    let scale = 1.0 / bufs.len() as f32;
    let (first, second) = chunk.as_mut_slices();
    for (f, out) in first.iter_mut().chain(second.iter_mut()).enumerate() {
        let sum: f32 = bufs.iter().map(|b| b[f]).sum();
        *out = sum * scale * gain.at(f);
    }
    chunk.commit_all();
}
