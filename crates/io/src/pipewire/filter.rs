//! The one `pw_filter` node the engine runs in, and its process callback.
//!
//! pipewire-rs (0.10) has no safe filter type, so this is the C API through
//! `pipewire::sys`: a filter with one DSP port (32-bit float mono) per engine input and
//! output channel, connected with `PW_FILTER_FLAG_RT_PROCESS` so that `process` runs on
//! PipeWire's data thread in the graph's own cycle.
//!
//! Real-time rules in the callback: the port buffers are gathered into fixed arrays on
//! the stack; a port without a buffer this cycle (not linked) reads a pre-allocated
//! silent buffer or writes into a pre-allocated scratch buffer of its own; statistics
//! are atomics; the only calls outside our code are `pw_filter_dequeue_buffer` and
//! `pw_filter_queue_buffer` (the lock-free dequeue/queue `pw_filter_get_dsp_buffer` is
//! made of, PipeWire's documented real-time path) and the monotonic clock (vDSO).
//!
//! A cycle longer than the engine computes in one go ([`MAX_QUANTUM`], or a port's
//! buffer if that is shorter) is computed up to that bound and the rest of every output
//! is silenced, never left holding an earlier cycle's samples; such cycles are counted
//! (`short_cycles` in the backend's statistics).

use std::ffi::{CString, c_char, c_void};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use pipewire::spa::sys as spa_sys;
use pipewire::sys as pw_sys;
use troubadour_engine::Engine;

use crate::accounting::CallbackStats;
use crate::backend::limits::MAX_PORTS;

/// The longest quantum the filter processes in one go (PipeWire's default
/// `clock.max-quantum` is 2048; 8192 is its upper bound). A longer cycle is cut to this.
pub const MAX_QUANTUM: usize = 8192;

/// What the process callback owns: the engine, the ports, the fallback buffers.
pub(crate) struct ProcessData {
    pub(crate) engine: Engine,
    inputs: Vec<*mut c_void>,
    outputs: Vec<*mut c_void>,
    silence: Box<[f32]>,
    scratch: Vec<Box<[f32]>>,
    stats: Arc<CallbackStats>,
    /// The graph's clock as last seen: rate, quantum, and the position expected next
    /// (a cycle whose position is not that one means the graph skipped cycles: an xrun).
    rate: u32,
    quantum: u32,
    next_position: Option<u64>,
    /// The driver's clock id: positions compare only on one clock (a node moved to
    /// another driver starts on that driver's position, which is not an xrun).
    clock_id: u32,
    /// One frame's length at `rate`, in ns (the period is frames × this).
    ns_per_frame: f64,
}

/// A filter node on a connection, with its ports and callback. Lives and dies on the
/// PipeWire thread (the loop the core belongs to).
pub(crate) struct Filter {
    raw: *mut pw_sys::pw_filter,
    /// Boxed so that its address, given to PipeWire as the callback's data, stays put.
    data: *mut ProcessData,
    _listener: Box<spa_sys::spa_hook>,
    _events: Box<pw_sys::pw_filter_events>,
}

/// Builds a `pw_properties` from pairs (owned by whoever it is handed to).
fn properties(pairs: &[(&str, &str)]) -> *mut pw_sys::pw_properties {
    let mut props = pipewire::properties::PropertiesBox::new();
    for (k, v) in pairs {
        props.insert(*k, *v);
    }
    props.into_raw()
}

impl Filter {
    /// Creates the filter node `name` on `core` with ports `inputs` and `outputs` (port
    /// names, engine order), and connects it for processing with `engine`.
    pub(crate) fn new(
        core: *mut pw_sys::pw_core,
        name: &str,
        inputs: &[String],
        outputs: &[String],
        engine: Engine,
        stats: Arc<CallbackStats>,
    ) -> Result<Filter, String> {
        for n in [inputs.len(), outputs.len()] {
            if n > MAX_PORTS {
                return Err(format!(
                    "{n} ports on one side; the PipeWire backend handles up to {MAX_PORTS}"
                ));
            }
        }
        let c_name = CString::new(name).map_err(|_| format!("bad node name {name:?}"))?;
        let props = properties(&[
            ("node.name", name),
            ("node.description", "Troubadour mixer"),
            ("media.type", "Audio"),
            ("media.category", "Filter"),
            ("media.role", "DSP"),
            // Scheduled (with the default driver) even while nothing is linked, so
            // generator strips and meters run as on the other backends.
            ("node.always-process", "true"),
        ]);
        // SAFETY: `core` is a live core of this thread's loop; `c_name` outlives the
        // call; the properties are handed over (pw_filter_new takes ownership).
        let raw = unsafe { pw_sys::pw_filter_new(core, c_name.as_ptr(), props) };
        if raw.is_null() {
            return Err("PipeWire refused to create the filter node".into());
        }
        let add = |direction: spa_sys::spa_direction, port: &str| -> Result<*mut c_void, String> {
            let props = properties(&[
                ("format.dsp", "32 bit float mono audio"),
                ("port.name", port),
            ]);
            // SAFETY: `raw` is the live filter made above; no params; the properties
            // are handed over. The returned port data (size 0 asked) is an opaque
            // handle valid until the filter is destroyed.
            let p = unsafe {
                pw_sys::pw_filter_add_port(
                    raw,
                    direction,
                    pw_sys::pw_filter_port_flags_PW_FILTER_PORT_FLAG_MAP_BUFFERS,
                    0,
                    props,
                    ptr::null_mut(),
                    0,
                )
            };
            if p.is_null() {
                Err(format!("PipeWire refused the filter port {port}"))
            } else {
                Ok(p)
            }
        };
        let destroy = |e: String| {
            // SAFETY: `raw` is live and not yet shared with a callback.
            unsafe { pw_sys::pw_filter_destroy(raw) };
            e
        };
        let ins = inputs
            .iter()
            .map(|n| add(spa_sys::SPA_DIRECTION_INPUT, n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(destroy)?;
        let outs = outputs
            .iter()
            .map(|n| add(spa_sys::SPA_DIRECTION_OUTPUT, n))
            .collect::<Result<Vec<_>, _>>()
            .map_err(destroy)?;
        let frame_ns = ns_per_frame(stats.sample_rate.load(Ordering::Relaxed));
        let data = Box::into_raw(Box::new(ProcessData {
            engine,
            scratch: (0..outs.len())
                .map(|_| vec![0.0; MAX_QUANTUM].into_boxed_slice())
                .collect(),
            inputs: ins,
            outputs: outs,
            silence: vec![0.0; MAX_QUANTUM].into_boxed_slice(),
            rate: stats.sample_rate.load(Ordering::Relaxed),
            quantum: stats.buffer_size.load(Ordering::Relaxed),
            stats,
            next_position: None,
            clock_id: u32::MAX,
            ns_per_frame: frame_ns,
        }));
        // SAFETY: a zeroed spa_hook is its documented initial state; every field of
        // pw_filter_events is a version number or an optional function pointer.
        let mut listener: Box<spa_sys::spa_hook> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: as above.
        let mut events: Box<pw_sys::pw_filter_events> = Box::new(unsafe { std::mem::zeroed() });
        events.version = pw_sys::PW_VERSION_FILTER_EVENTS;
        events.process = Some(on_process);
        // SAFETY: `listener` and `events` are boxed and kept with the filter, `data`
        // lives until `Drop` (after the filter is destroyed).
        unsafe {
            pw_sys::pw_filter_add_listener(raw, listener.as_mut(), events.as_ref(), data.cast());
        }
        let filter = Filter {
            raw,
            data,
            _listener: listener,
            _events: events,
        };
        // SAFETY: `raw` is live; no params.
        let rc = unsafe {
            pw_sys::pw_filter_connect(
                raw,
                pw_sys::pw_filter_flags_PW_FILTER_FLAG_RT_PROCESS,
                ptr::null_mut(),
                0,
            )
        };
        if rc < 0 {
            return Err(format!(
                "PipeWire refused to connect the filter node ({rc})"
            ));
        }
        Ok(filter)
    }

    /// The callback's counters.
    pub(crate) fn stats(&self) -> Option<&CallbackStats> {
        // SAFETY: `data` lives as long as the filter; only its `stats` (atomics behind
        // an Arc) is read here, while the callback may run.
        (!self.data.is_null()).then(|| unsafe { &*ptr::addr_of!((*self.data).stats) }.as_ref())
    }

    /// The node's id in the graph, once the server has given it one.
    pub(crate) fn node_id(&self) -> Option<u32> {
        // SAFETY: the filter is live.
        let id = unsafe { pw_sys::pw_filter_get_node_id(self.raw) };
        (id != u32::MAX).then_some(id)
    }

    /// The filter's state and error text, if it failed.
    pub(crate) fn error(&self) -> Option<String> {
        let mut why: *const c_char = ptr::null();
        // SAFETY: the filter is live; `why` receives a string owned by the filter.
        let state = unsafe { pw_sys::pw_filter_get_state(self.raw, &mut why) };
        (state == pw_sys::pw_filter_state_PW_FILTER_STATE_ERROR).then(|| {
            if why.is_null() {
                "the filter node failed".to_string()
            } else {
                // SAFETY: a NUL-terminated string from PipeWire, read at once.
                unsafe { std::ffi::CStr::from_ptr(why) }
                    .to_string_lossy()
                    .into_owned()
            }
        })
    }

    /// Destroys the node (its process callback has run for the last time when this
    /// returns) and hands the engine back.
    pub(crate) fn stop(mut self) -> Engine {
        // SAFETY: the filter is live; destroying it stops its callbacks (it is removed
        // from the data loop synchronously) before `data` is taken back.
        unsafe {
            pw_sys::pw_filter_disconnect(self.raw);
            pw_sys::pw_filter_destroy(self.raw);
        }
        self.raw = ptr::null_mut();
        // SAFETY: made by Box::into_raw in `new`, no longer seen by PipeWire.
        let data = unsafe { Box::from_raw(self.data) };
        self.data = ptr::null_mut();
        data.engine
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        if !self.raw.is_null() {
            // SAFETY: as in `stop`.
            unsafe { pw_sys::pw_filter_destroy(self.raw) };
        }
        if !self.data.is_null() {
            // SAFETY: as in `stop`.
            drop(unsafe { Box::from_raw(self.data) });
        }
    }
}

/// A port's buffer for this cycle: its samples and how many floats it holds, or `None`
/// when the port has no buffer this cycle (not linked). What `pw_filter_get_dsp_buffer`
/// does (a lock-free dequeue and queue of the port's buffer), but it also tells the
/// buffer's capacity, so that a cycle longer than the buffer is never written past its
/// end, and an output's chunk says exactly how many frames it carries (`frames`, or
/// the capacity if that is less).
///
/// # Safety
/// `port` is a port of a live filter, called from its process callback.
unsafe fn port_buffer(port: *mut c_void, frames: usize, output: bool) -> Option<(*mut f32, usize)> {
    // SAFETY: the caller's contract; a null return means no buffer.
    let b = unsafe { pw_sys::pw_filter_dequeue_buffer(port) };
    if b.is_null() {
        return None;
    }
    // SAFETY: a dequeued pw_buffer points at its spa_buffer, which has `n_datas` data
    // blocks; a DSP port's buffer has one, mapped (PW_FILTER_PORT_FLAG_MAP_BUFFERS).
    let found = unsafe {
        let buffer = (*b).buffer;
        if buffer.is_null() || (*buffer).n_datas == 0 || (*buffer).datas.is_null() {
            None
        } else {
            let d = &mut *(*buffer).datas;
            let capacity = d.maxsize as usize / std::mem::size_of::<f32>();
            let len = frames.min(capacity);
            if output && !d.chunk.is_null() {
                let chunk = &mut *d.chunk;
                chunk.offset = 0;
                chunk.size = (len * std::mem::size_of::<f32>()) as u32;
                chunk.stride = std::mem::size_of::<f32>() as i32;
                chunk.flags = 0;
            }
            (!d.data.is_null()).then(|| (d.data.cast::<f32>(), len))
        }
    };
    // SAFETY: the buffer dequeued above goes back at once, as get_dsp_buffer does; its
    // memory stays ours to read or write until the callback returns.
    unsafe { pw_sys::pw_filter_queue_buffer(port, b) };
    found
}

/// How many of a cycle's `frames` the engine computes: all of them, unless the cycle
/// is longer than [`MAX_QUANTUM`] or than a port's buffer (`shortest`).
fn computed_frames(frames: usize, shortest: usize) -> usize {
    frames.min(MAX_QUANTUM).min(shortest)
}

/// Silences what an output port's buffer holds past the `computed` frames (a cycle the
/// engine did not compute in full): the graph hears silence there, never the samples a
/// previous cycle left.
fn zero_tail(out: &mut [f32], computed: usize) {
    if let Some(tail) = out.get_mut(computed..) {
        tail.fill(0.0);
    }
}

/// PipeWire's data thread, once per graph cycle.
unsafe extern "C" fn on_process(data: *mut c_void, position: *mut spa_sys::spa_io_position) {
    let start = Instant::now();
    // SAFETY: `data` is the ProcessData given with the listener, only ever touched by
    // this callback while the filter lives.
    let p = unsafe { &mut *data.cast::<ProcessData>() };
    let (frames, rate, at) = if position.is_null() {
        (p.quantum, p.rate, None)
    } else {
        // SAFETY: PipeWire's position area for this cycle, valid during the callback.
        let clock = unsafe { &(*position).clock };
        (
            clock.duration as u32,
            clock.rate.denom,
            Some((clock.id, clock.position)),
        )
    };
    if let Some((id, at)) = at {
        if id == p.clock_id && p.next_position.is_some_and(|expected| expected != at) {
            p.stats.xruns.fetch_add(1, Ordering::Relaxed);
        }
        p.clock_id = id;
        p.next_position = Some(at + u64::from(frames));
    }
    if frames != p.quantum && frames > 0 {
        p.quantum = frames;
        p.stats.buffer_size.store(frames, Ordering::Relaxed);
    }
    if rate != p.rate && rate > 0 {
        p.rate = rate;
        p.ns_per_frame = ns_per_frame(rate);
        p.stats.sample_rate.store(rate, Ordering::Relaxed);
    }
    let frames = frames as usize;
    let ProcessData {
        engine,
        inputs,
        outputs,
        silence,
        scratch,
        stats,
        ..
    } = p;
    let short = stats.guarded(|| {
        // Each port's buffer and length this cycle; null: none (unlinked).
        let mut ins = [(ptr::null_mut::<f32>(), 0usize); MAX_PORTS];
        let mut outs = [(ptr::null_mut::<f32>(), 0usize); MAX_PORTS];
        let mut shortest = frames;
        for (slot, port) in ins.iter_mut().zip(inputs.iter()) {
            // SAFETY: a port of this filter, in its process callback.
            if let Some(found) = unsafe { port_buffer(*port, frames, false) } {
                shortest = shortest.min(found.1);
                *slot = found;
            }
        }
        for (slot, port) in outs.iter_mut().zip(outputs.iter()) {
            // SAFETY: as above, for an output port.
            if let Some(found) = unsafe { port_buffer(*port, frames, true) } {
                shortest = shortest.min(found.1);
                *slot = found;
            }
        }
        let n = computed_frames(frames, shortest);
        let empty: &[f32] = &[];
        let mut in_slices = [empty; MAX_PORTS];
        for (slice, &(buf, _)) in in_slices.iter_mut().zip(ins.iter()).take(inputs.len()) {
            *slice = if buf.is_null() {
                &silence[..n]
            } else {
                // SAFETY: the port's buffer holds at least `n` floats (n is at most its
                // length) and is ours to read until the callback returns.
                unsafe { std::slice::from_raw_parts(buf, n) }
            };
        }
        let mut out_slices: [&mut [f32]; MAX_PORTS] = std::array::from_fn(|_| &mut [][..]);
        for ((slice, &(buf, len)), spare) in out_slices
            .iter_mut()
            .zip(outs.iter())
            .zip(scratch.iter_mut())
        {
            *slice = if buf.is_null() {
                &mut spare[..n]
            } else {
                // SAFETY: as above, the whole `len` the chunk announces; each port's
                // buffer is its own, so no two slices alias.
                unsafe { std::slice::from_raw_parts_mut(buf, len) }
            };
        }
        let outs = &mut out_slices[..outputs.len()];
        {
            // The engine writes the first `n` frames of every output.
            let mut heads: [&mut [f32]; MAX_PORTS] = std::array::from_fn(|_| &mut [][..]);
            for (head, out) in heads.iter_mut().zip(outs.iter_mut()) {
                *head = &mut out[..n];
            }
            engine.process(&in_slices[..inputs.len()], &mut heads[..outputs.len()], n);
        }
        for out in outs.iter_mut() {
            zero_tail(out, n);
        }
        n < frames
    });
    if short {
        p.stats.short_cycles.fetch_add(1, Ordering::Relaxed);
    }
    let busy = start.elapsed().as_nanos() as u64;
    let period = (frames as f64 * p.ns_per_frame) as u64;
    p.stats.record(busy, period);
}

/// The length of one frame at `rate`, worked out when the rate changes rather than with
/// a division in every cycle.
fn ns_per_frame(rate: u32) -> f64 {
    1e9 / f64::from(rate.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_longer_than_the_bound_is_computed_up_to_it_and_its_tail_silenced() {
        assert_eq!(computed_frames(256, 256), 256);
        assert_eq!(
            computed_frames(MAX_QUANTUM * 2, MAX_QUANTUM * 2),
            MAX_QUANTUM
        );
        // A port whose buffer is shorter than the cycle bounds it too.
        assert_eq!(computed_frames(1024, 512), 512);
        let mut out = vec![0.7f32; 1024];
        zero_tail(&mut out, 512);
        assert!(out[..512].iter().all(|&x| x == 0.7));
        assert!(out[512..].iter().all(|&x| x == 0.0));
        // Nothing past the end when all was computed.
        zero_tail(&mut out, 1024);
        assert_eq!(out[511], 0.7);
    }

    #[test]
    fn the_period_follows_the_rate_without_a_division_per_cycle() {
        assert_eq!((256.0 * ns_per_frame(48_000)) as u64, 5_333_333);
        assert_eq!((64.0 * ns_per_frame(44_100)) as u64, 1_451_247);
        // A rate of 0 (not yet known) does not divide by zero.
        assert!(ns_per_frame(0).is_finite());
    }
}
