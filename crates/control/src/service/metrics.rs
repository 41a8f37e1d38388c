//! `/metrics` in the Prometheus text format (every name prefixed `troubadour_`) and the
//! status object of `status` requests and events.

use std::fmt::Write as _;

use serde_json::{Value, json};
use troubadour_host::HostStatus;
use troubadour_host::memory::Resident;

use super::Service;
use crate::event::db_json;

/// A label value, escaped as the text format wants.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A float sample value: the format spells infinities `+Inf`/`-Inf`.
fn sample(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{x}")
    }
}

struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP troubadour_{name} {help}");
        let _ = writeln!(self.0, "# TYPE troubadour_{name} {kind}");
    }

    fn value(&mut self, name: &str, labels: &[(&str, &str)], x: f64) {
        let _ = write!(self.0, "troubadour_{name}");
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", inner.join(","));
        }
        let _ = writeln!(self.0, " {}", sample(x));
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, x: f64) {
        self.family(name, kind, help);
        self.value(name, &[], x);
    }
}

impl Service {
    pub(super) fn metrics_text(&mut self) -> String {
        self.read_backend_stats();
        let mut t = Text(String::with_capacity(4096));
        let running = matches!(self.host.status(), HostStatus::Running { .. });
        let kind = self.host.kind().to_string();
        t.family(
            "backend_up",
            "gauge",
            "1 while the audio backend runs, 0 while it is lost and being brought back",
        );
        t.value(
            "backend_up",
            &[("backend", &kind)],
            f64::from(u8::from(running)),
        );
        let clock = self.host.clock();
        t.one(
            "sample_rate_hz",
            "gauge",
            "The sample rate in force",
            f64::from(clock.sample_rate),
        );
        t.one(
            "period_frames",
            "gauge",
            "The backend's period in frames",
            clock.period_frames as f64,
        );
        t.one(
            "spectrum_taps_open",
            "gauge",
            "Spectrum taps the audio thread feeds (one per strip or bus some page shows)",
            self.host.controller().spectrum().open_slots() as f64,
        );
        let stats = self.last_stats.clone().unwrap_or_default();
        let load_max = self.load_max_since_scrape.max(stats.load_max);
        self.load_max_since_scrape = 0.0;
        t.one(
            "dsp_load_ratio",
            "gauge",
            "DSP load of the last audio callback (time spent / period)",
            f64::from(stats.load_last),
        );
        t.one(
            "dsp_load_max_ratio",
            "gauge",
            "Highest DSP load since the previous scrape",
            f64::from(load_max),
        );
        t.one(
            "dsp_load_mean_ratio",
            "gauge",
            "Mean DSP load since the backend started",
            stats.load_mean,
        );
        t.one(
            "callback_busy_seconds_total",
            "counter",
            "Time spent in audio callbacks (two readings give the DSP load over any window)",
            stats.busy_ns as f64 / 1e9,
        );
        t.one(
            "callback_period_seconds_total",
            "counter",
            "Audio time the callbacks covered (their periods added up)",
            stats.period_ns as f64 / 1e9,
        );
        t.one(
            "callbacks_total",
            "counter",
            "Audio callbacks run by this backend connection",
            stats.callbacks as f64,
        );
        t.one(
            "server_xruns_total",
            "counter",
            "Xruns the audio server or device reported (not caused by the engine)",
            stats.xruns as f64,
        );
        t.one(
            "late_callbacks_total",
            "counter",
            "Engine-caused late callbacks: processing took longer than the period",
            stats.late as f64,
        );
        t.one(
            "late_stalled_callbacks_total",
            "counter",
            "Late callbacks where the thread was stalled (descheduled) rather than busy",
            stats.late_stalled as f64,
        );
        t.one(
            "allocations_in_callback_total",
            "counter",
            "Heap allocations seen on the audio thread (must stay 0)",
            stats.alloc_violations as f64,
        );
        t.one(
            "syscalls_in_callback_total",
            "counter",
            "System calls seen on the audio thread inside callbacks (must stay 0; counted where the kernel has syscall user dispatch)",
            stats.syscall_violations as f64,
        );
        let guard = troubadour_rt::syscall_guard::status().is_ok()
            && troubadour_rt::syscall_guard::armed_threads() > 0;
        t.one(
            "syscall_guard_active",
            "gauge",
            "1 while system calls in callbacks are counted (the kernel has syscall user dispatch and an audio thread is armed), else 0",
            if guard { 1.0 } else { 0.0 },
        );
        t.one(
            "short_cycles_total",
            "counter",
            "Cycles longer than the backend computes in one go: computed up to its bound, the rest silenced",
            stats.short_cycles as f64,
        );
        t.family(
            "player_underrun_frames_total",
            "counter",
            "Frames of silence a strip's file player played because its disk reader was behind",
        );
        for (strip, frames) in &self.player_underruns {
            t.value(
                "player_underrun_frames_total",
                &[("strip", strip)],
                *frames as f64,
            );
        }
        t.family(
            "bridge_underruns_total",
            "counter",
            "Bridged device underruns (the device wanted audio the ring did not have)",
        );
        for b in &stats.bridges {
            t.value(
                "bridge_underruns_total",
                &[("bridge", &b.name), ("device", &b.device)],
                b.underruns as f64,
            );
        }
        t.family(
            "bridge_overruns_total",
            "counter",
            "Bridged device overruns (frames the ring had no room for)",
        );
        for b in &stats.bridges {
            t.value(
                "bridge_overruns_total",
                &[("bridge", &b.name), ("device", &b.device)],
                b.overruns as f64,
            );
        }
        let e = self.host.controller().stats();
        t.one(
            "commands_total",
            "counter",
            "Parameter changes the audio thread applied",
            e.commands as f64,
        );
        t.one(
            "commands_coalesced_total",
            "counter",
            "Parameter changes superseded by a later one in the same callback",
            e.coalesced_commands as f64,
        );
        t.one("command_queue_overflows_total", "counter", "Requests refused because the audio thread's command queue (or the control thread's) was full", self.counters.queue_full as f64);
        t.one(
            "graph_swaps_total",
            "counter",
            "Structural changes swapped into the audio thread",
            e.graph_swaps as f64,
        );
        t.one(
            "non_finite_samples_total",
            "counter",
            "NaN or infinite samples caught and silenced",
            e.non_finite as f64,
        );
        t.one(
            "clipped_samples_total",
            "counter",
            "Bus output samples beyond full scale, all buses together",
            e.over_full_scale as f64,
        );
        t.family(
            "bus_peak_dbfs",
            "gauge",
            "Highest sample peak of each bus channel since the previous scrape, dBFS",
        );
        if let Some(frame) = self.metrics_meters.take() {
            for bus in &frame.buses {
                for (c, (peak, _)) in bus.post.iter().enumerate() {
                    let channel = (c + 1).to_string();
                    t.value(
                        "bus_peak_dbfs",
                        &[("bus", &bus.name), ("channel", &channel)],
                        f64::from(*peak),
                    );
                }
            }
        }
        if let Some(m) = Resident::now() {
            t.one(
                "resident_memory_bytes",
                "gauge",
                "Resident memory of the process",
                m.total_mb * 1024.0 * 1024.0,
            );
        }
        t.one(
            "changes_total",
            "counter",
            "Changes applied through the control API (the last sequence number)",
            self.seq as f64,
        );
        t.one(
            "api_requests_total",
            "counter",
            "Requests the control thread served",
            self.counters.requests as f64,
        );
        t.family(
            "api_refused_total",
            "counter",
            "Requests refused, by error code",
        );
        for (code, n) in &self.counters.refused {
            t.value("api_refused_total", &[("code", code)], *n as f64);
        }
        t.one(
            "autosaves_total",
            "counter",
            "Session file writes",
            self.counters.autosaves as f64,
        );
        t.one(
            "autosave_failures_total",
            "counter",
            "Session file writes that failed (retried)",
            self.counters.autosave_failures as f64,
        );
        t.one(
            "host_events_dropped_total",
            "counter",
            "Host events a slow listener missed",
            self.host.events_dropped() as f64,
        );
        let rec = self.host.recorder_status();
        t.one(
            "recorder_recording",
            "gauge",
            "1 while a take records, 0.5 while it is paused, 0 when idle",
            match rec.state {
                "recording" => 1.0,
                "paused" => 0.5,
                _ => 0.0,
            },
        );
        t.one(
            "recorder_take_frames",
            "gauge",
            "Frames recorded in the running take",
            rec.frames as f64,
        );
        t.family(
            "recorder_lost_frames",
            "gauge",
            "Frames a track of the running take lost because the disk fell behind (silence stands in)",
        );
        for (track, lost) in rec.tracks.iter().zip(&rec.lost_frames) {
            t.value("recorder_lost_frames", &[("track", track)], *lost as f64);
        }
        t.one(
            "recorder_takes_repaired_total",
            "counter",
            "Takes a crash had interrupted, repaired since the start",
            rec.repaired as f64,
        );
        for source in &self.metrics_sources {
            source(&mut t.0);
        }
        t.0
    }

    pub(super) fn status_json(&self) -> Value {
        let clock = self.host.clock();
        let stats = self.last_stats.clone().unwrap_or_default();
        let latency = self.host.latency();
        let ms = |frames: u32| f64::from(frames) * 1e3 / f64::from(clock.sample_rate.max(1));
        let (running, lost) = match self.host.status() {
            HostStatus::Running { .. } => (true, Value::Null),
            HostStatus::Reconnecting {
                why,
                attempts,
                since,
                ..
            } => (
                false,
                json!({"why": why, "attempts": attempts, "since_s": since.as_secs_f64()}),
            ),
        };
        let mut status = json!({
            "backend": self.host.kind().to_string(),
            "running": running,
            "sample_rate": clock.sample_rate,
            "period_frames": clock.period_frames,
            "period_ms": clock.period_ms(),
            "load": stats.load_last,
            "load_max": stats.load_max.max(self.load_max_since_status),
            "load_mean": stats.load_mean,
            "callbacks": stats.callbacks,
            "xruns": stats.xruns,
            "late": stats.late,
            "bridge_underruns": stats.bridge_underruns(),
            "bridge_overruns": stats.bridge_overruns(),
            "uptime_s": self.host.uptime().as_secs_f64(),
            "seq": self.seq,
            "autosave": self.autosaves(),
            "reconnecting": lost,
            "undo_steps": self.history.len().0,
            "redo_steps": self.history.len().1,
        });
        if let Some(l) = latency {
            status["latency_ms"] = json!({
                "capture": ms(l.capture_frames),
                "playback": ms(l.playback_frames),
            });
        }
        if let Some(m) = self.host.memory() {
            status["resident_mb"] = db_json(m.total_mb as f32);
        }
        status
    }
}
