// The status bar: the backend and its clock, DSP load, xruns and late callbacks, and
// whether the page is connected to the API.

import { byId } from "./dom.js";

/**
 * @param {string} id
 * @param {string} text
 */
function put(id, text) {
  const el = document.getElementById(id);
  if (el && el.textContent !== text) el.textContent = text;
}

/** @param {unknown} x */
const num = (x) => (typeof x === "number" && Number.isFinite(x) ? x : 0);

/**
 * Shows a status object (`GET /api/v1/status`'s `status`, or a `status` event).
 * @param {Record<string, any>} s
 */
export function showStatus(s) {
  const latency = s.latency_ms ?? {};
  const period = num(s.period_ms);
  put("st-backend", String(s.backend ?? "?") + (s.running === false ? " (stopped)" : ""));
  put("st-rate", `${num(s.sample_rate)} Hz`);
  put("st-period", `${num(s.period_frames)} frames, ${period.toFixed(2)} ms`);
  // As the backend reports it (capture plus playback), like the command line's line.
  put("st-latency", `${(num(latency.capture) + num(latency.playback)).toFixed(2)} ms`);
  put("st-load", `${(num(s.load) * 100).toFixed(1)} %`);
  put("st-xruns", String(num(s.xruns)));
  put("st-late", String(num(s.late)));
  if (typeof s.reconnecting === "string") put("st-backend", `${s.backend} (reconnecting: ${s.reconnecting})`);
}

/**
 * Says how the API connection is: "connected", "connecting…", or that it was lost.
 * @param {"connected" | "connecting" | "lost"} state
 * @param {string} [detail]
 */
export function showConnection(state, detail = "") {
  const el = byId("st-conn", HTMLElement);
  el.dataset.state = state;
  const words = { connected: "connected", connecting: "connecting\u2026", lost: "connection lost, reconnecting" };
  el.textContent = words[state] + (detail ? ` (${detail})` : "");
  document.body.dataset.connection = state;
}
