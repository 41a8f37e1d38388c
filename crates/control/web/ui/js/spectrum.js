// The spectrum analyser: one strip's or bus's spectrum in a window of its own, drawn
// on a canvas from the server's `spectrum` frames (1/6-octave bands with peak hold,
// computed by the mixer). The page subscribes only while the window is open.

import { byId } from "./dom.js";

/** @typedef {import("./api.js").Api} Api */

const MIN_HZ = 20;
const MAX_HZ = 20000;
const TOP_DB = 0;
const BOTTOM_DB = -96;
const GRID_DB = 12;
const LABELS_HZ = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000];

/** @param {number} hz */
const hzLabel = (hz) => (hz >= 1000 ? `${hz / 1000}k` : String(hz));

export class SpectrumView {
  /**
   * @param {Api} api
   * @param {(message: string) => void} say
   */
  constructor(api, say) {
    this.api = api;
    this.say = say;
    this.dialog = byId("spectrum-panel", HTMLDialogElement);
    this.title = byId("spectrum-title", HTMLElement);
    this.canvas = byId("spectrum-canvas", HTMLCanvasElement);
    /** The target shown (`strip/Mic`, as the server names it), or null. */
    /** @type {string | null} */
    this.target = null;
    /** @type {number[]} */
    this.bandsHz = [];
    /** @type {number[]} */
    this.levels = [];
    /** @type {number[]} */
    this.peaks = [];
    this.frames = 0;
    this.raf = 0;
    byId("spectrum-close", HTMLButtonElement).addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => this.stop());
  }

  /**
   * Shows `target`'s spectrum (replacing the one shown).
   * @param {string} target `strip/<name>` or `bus/<name>`
   * @param {string} name
   */
  async open(target, name) {
    if (this.target && this.target !== target) this.unsubscribe(this.target);
    this.target = target;
    this.title.textContent = `${name}: spectrum`;
    this.canvas.setAttribute("aria-label", `${name} spectrum`);
    this.levels = [];
    this.peaks = [];
    this.frames = 0;
    this.canvas.dataset.frames = "0";
    delete this.canvas.dataset.peakHz;
    delete this.canvas.dataset.peakDb;
    if (!this.dialog.open) this.dialog.show();
    if (!this.raf) this.raf = requestAnimationFrame(() => this.draw());
    await this.subscribe();
  }

  /** Subscribes to the target shown (again, after a reconnection). */
  async subscribe() {
    const target = this.target;
    if (!target) return;
    try {
      const reply = await this.api.request("spectrum_subscribe", { target });
      if (this.target !== target) return;
      this.target = String(reply.target);
      this.bandsHz = /** @type {number[]} */ (reply.bands_hz);
      this.canvas.dataset.target = this.target;
    } catch (e) {
      this.say(e instanceof Error ? e.message : String(e));
    }
  }

  /** @param {string} target */
  unsubscribe(target) {
    this.api.request("spectrum_unsubscribe", { target }).catch(() => {});
  }

  /** The window closed: stop drawing and receiving. */
  stop() {
    if (this.target) this.unsubscribe(this.target);
    this.target = null;
    delete this.canvas.dataset.target;
    cancelAnimationFrame(this.raf);
    this.raf = 0;
  }

  /** @param {import("./api.js").ApiEvent} event */
  frame(event) {
    if (event.target !== this.target) return;
    this.levels = /** @type {number[]} */ (event.bands);
    this.peaks = /** @type {number[]} */ (event.peaks);
    this.frames += 1;
    let loudest = 0;
    for (let i = 1; i < this.levels.length; i++) if (this.levels[i] > this.levels[loudest]) loudest = i;
    // What the view shows, for people who cannot see it and for the tests.
    const hz = this.bandsHz[loudest] ?? 0;
    const db = this.levels[loudest] ?? BOTTOM_DB;
    this.canvas.dataset.frames = String(this.frames);
    this.canvas.dataset.peakHz = String(hz);
    this.canvas.dataset.peakDb = String(db);
    this.canvas.textContent = `loudest band ${hzLabel(Math.round(hz))} Hz at ${db.toFixed(1)} dBFS`;
  }

  /**
   * @param {number} hz
   * @param {number} width
   */
  x(hz, width) {
    return (Math.log(hz / MIN_HZ) / Math.log(MAX_HZ / MIN_HZ)) * width;
  }

  /**
   * @param {number} db
   * @param {number} height
   */
  y(db, height) {
    const clamped = Math.min(TOP_DB, Math.max(BOTTOM_DB, db));
    return ((TOP_DB - clamped) / (TOP_DB - BOTTOM_DB)) * height;
  }

  draw() {
    this.raf = requestAnimationFrame(() => this.draw());
    const c = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = Math.round(c.clientWidth * ratio);
    const hgt = Math.round(c.clientHeight * ratio);
    if (c.width !== w || c.height !== hgt) [c.width, c.height] = [w, hgt];
    const g = c.getContext("2d");
    if (!g || w === 0) return;
    const pad = 28 * ratio;
    const [pw, ph] = [w - pad, hgt - pad];
    g.fillStyle = "#111418";
    g.fillRect(0, 0, w, hgt);
    g.font = `${11 * ratio}px system-ui, sans-serif`;
    g.lineWidth = 1;
    g.strokeStyle = "#2a3038";
    g.fillStyle = "#9aa4b0";
    g.textBaseline = "middle";
    for (let db = TOP_DB; db >= BOTTOM_DB; db -= GRID_DB) {
      const y = this.y(db, ph);
      g.beginPath();
      g.moveTo(pad, y);
      g.lineTo(w, y);
      g.stroke();
      g.fillText(String(db), 2 * ratio, Math.max(6 * ratio, y));
    }
    g.textBaseline = "bottom";
    g.textAlign = "center";
    for (const hz of LABELS_HZ) {
      const x = pad + this.x(hz, pw);
      g.beginPath();
      g.moveTo(x, 0);
      g.lineTo(x, ph);
      g.stroke();
      g.fillText(hzLabel(hz), Math.min(w - 10 * ratio, Math.max(pad, x)), hgt - 2 * ratio);
    }
    g.textAlign = "start";
    if (this.levels.length === 0) return;
    // Each band's level is the energy across its 1/6 octave, so it is drawn across
    // that width (edges a 1/12 octave either side of its centre): steps, not a spike
    // through the centres that no pixel column can show the top of.
    const half = 2 ** (1 / 12);
    /** @param {number} hz */
    const at = (hz) => pad + this.x(Math.min(MAX_HZ, Math.max(MIN_HZ, hz)), pw);
    /** @param {number[]} values */
    const trace = (values) => {
      g.beginPath();
      values.forEach((db, i) => {
        const hz = this.bandsHz[i] ?? MIN_HZ;
        const y = this.y(db, ph);
        if (i === 0) g.moveTo(at(hz / half), y);
        else g.lineTo(at(hz / half), y);
        g.lineTo(at(hz * half), y);
      });
    };
    trace(this.levels);
    g.lineTo(at((this.bandsHz[this.levels.length - 1] ?? MAX_HZ) * half), ph);
    g.lineTo(at((this.bandsHz[0] ?? MIN_HZ) / half), ph);
    g.closePath();
    g.fillStyle = "rgba(64, 180, 120, 0.55)";
    g.fill();
    trace(this.peaks);
    g.strokeStyle = "#f0c040";
    g.lineWidth = 1.5 * ratio;
    g.stroke();
  }
}
