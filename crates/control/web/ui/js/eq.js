// The EQ editor: the whole EQ's response drawn from the cookbook formulas, one handle
// per band (drag for frequency × gain, the wheel for Q, arrows from the keyboard),
// sending while it is dragged; and a table of the bands to add, remove, switch and
// change the kind of.

import { Sender } from "./api.js";
import { GAIN_KINDS, responseDb } from "./biquad.js";
import { h, setPressed, toggleButton } from "./dom.js";

/** @typedef {import("./biquad.js").Band} Band */

const SVG = "http://www.w3.org/2000/svg";
/** The plot: frequency span (log), gain span, and its size in user units. */
const F_MIN = 20;
const F_MAX = 20000;
const DB_SPAN = 24;
const W = 640;
const H = 260;
/** Curve points (log-spaced), besides one at every band's frequency. */
const POINTS = 240;

/** @param {number} f */
const xOf = (f) => (Math.log(f / F_MIN) / Math.log(F_MAX / F_MIN)) * W;
/** @param {number} x */
const fOf = (x) => F_MIN * (F_MAX / F_MIN) ** (x / W);
/** @param {number} db */
const yOf = (db) => H / 2 - (db / DB_SPAN) * (H / 2);
/** @param {number} y */
const dbOf = (y) => ((H / 2 - y) / (H / 2)) * DB_SPAN;

/**
 * An SVG element.
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 */
function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** @param {number} f */
const hz = (f) => (f >= 1000 ? `${(f / 1000).toFixed(f >= 10000 ? 1 : 2)} kHz` : `${Math.round(f)} Hz`);

/**
 * @param {Band} b
 * @param {number} i
 */
function bandText(b, i) {
  const gain = GAIN_KINDS.has(b.kind) ? `, ${b.gain_db >= 0 ? "+" : "\u2212"}${Math.abs(b.gain_db).toFixed(1)} dB` : "";
  return `band ${i + 1}: ${b.kind} ${hz(b.freq)}${gain}, Q ${b.q.toFixed(2)}${b.on ? "" : ", off"}`;
}

export class EqEditor {
  /**
   * @param {import("./api.js").Api} api
   * @param {import("./model.js").Model} model
   * @param {string} target `strip/Mic` or `bus/A1`
   * @param {string} label the strip's or bus's name
   * @param {(message: string) => void} say
   */
  constructor(api, model, target, label, say) {
    this.api = api;
    this.model = model;
    this.target = target;
    this.label = label;
    this.say = say;
    this.rate = Number(model.session.sample_rate ?? 48000);
    /** The bands as shown: the model's, or the local values of a band being dragged. */
    this.bands = model.bands(target);
    /** @type {number | null} */
    this.dragging = null;
    this.plot = /** @type {SVGSVGElement} */ (svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "eq-plot", role: "group" }));
    this.plot.setAttribute("aria-label", `${label} EQ response`);
    Object.assign(this.plot.dataset, { fmin: F_MIN, fmax: F_MAX, dbspan: DB_SPAN, width: W, height: H });
    this.curve = svg("path", { class: "eq-curve", d: "" });
    this.grid();
    this.plot.append(this.curve);
    /** @type {SVGCircleElement[]} */
    this.handles = this.bands.map((_, i) => this.handle(i));
    this.list = h("div", { class: "eq-bands" });
    this.el = h("div", { class: "eq" }, [this.plot, this.list, h("button", { type: "button", onclick: () => this.addBand() }, ["Add band"])]);
    for (let i = 0; i < this.bands.length; i++) {
      for (const key of ["kind", "freq", "q", "gain_db", "slope", "on"]) {
        model.watch(`${target}/eq/${i + 1}/${key}`, () => {
          if (this.dragging !== i) this.bands[i] = model.bands(target)[i];
          this.draw();
        });
      }
    }
    this.table();
    this.draw();
  }

  grid() {
    for (const f of [50, 100, 200, 500, 1000, 2000, 5000, 10000]) {
      this.plot.append(svg("line", { class: "eq-grid", x1: xOf(f), x2: xOf(f), y1: 0, y2: H }));
      const t = svg("text", { class: "eq-label", x: xOf(f) + 3, y: H - 4 });
      t.textContent = f >= 1000 ? `${f / 1000}k` : String(f);
      this.plot.append(t);
    }
    for (const db of [-18, -12, -6, 0, 6, 12, 18]) {
      this.plot.append(svg("line", { class: db === 0 ? "eq-grid zero" : "eq-grid", x1: 0, x2: W, y1: yOf(db), y2: yOf(db) }));
      const t = svg("text", { class: "eq-label", x: 3, y: yOf(db) - 3 });
      t.textContent = db > 0 ? `+${db}` : String(db);
      this.plot.append(t);
    }
  }

  /** Redraws the curve and the handles from `this.bands`. */
  draw() {
    const freqs = [];
    for (let i = 0; i <= POINTS; i++) freqs.push(F_MIN * (F_MAX / F_MIN) ** (i / POINTS));
    // A point at every band's own frequency, so the curve is exact where it matters most.
    for (const b of this.bands) if (b.freq > F_MIN && b.freq < F_MAX) freqs.push(b.freq);
    freqs.sort((a, b) => a - b);
    const d = freqs
      .map((f, i) => {
        const db = Math.max(-DB_SPAN * 2, Math.min(DB_SPAN * 2, responseDb(this.bands, f, this.rate)));
        return `${i ? "L" : "M"}${xOf(f).toFixed(3)} ${yOf(db).toFixed(3)}`;
      })
      .join("");
    this.curve.setAttribute("d", d);
    this.bands.forEach((b, i) => {
      const c = this.handles[i];
      if (!c) return;
      const gain = GAIN_KINDS.has(b.kind) ? b.gain_db : 0;
      c.setAttribute("cx", xOf(b.freq).toFixed(2));
      c.setAttribute("cy", yOf(gain).toFixed(2));
      c.setAttribute("aria-valuenow", String(Math.round(b.freq)));
      c.setAttribute("aria-valuetext", bandText(b, i));
      c.classList.toggle("off", !b.on);
    });
  }

  /**
   * A band's handle.
   * @param {number} i
   */
  handle(i) {
    const base = `${this.target}/eq/${i + 1}`;
    const c = /** @type {SVGCircleElement} */ (svg("circle", { class: "eq-handle", r: 11, tabindex: 0, role: "slider", "aria-valuemin": F_MIN, "aria-valuemax": F_MAX }));
    c.setAttribute("aria-label", `${this.label} EQ band ${i + 1}`);
    c.dataset.band = String(i + 1);
    const settle = () => {
      if (this.dragging === i || freq.busy || gain.busy || q.busy) return;
      this.bands[i] = this.model.bands(this.target)[i];
      this.draw();
    };
    /** @param {string} path */
    const sender = (path) => new Sender(this.api, path, (v, seq) => this.model.apply(path, v, seq), settle);
    const freq = sender(`${base}/freq`);
    const gain = sender(`${base}/gain_db`);
    const q = sender(`${base}/q`);
    /** @param {Partial<Band>} change */
    const change = (change) => {
      const b = { ...this.bands[i], ...change };
      b.freq = Math.round(Math.min(Math.min(F_MAX, this.rate / 2 - 1), Math.max(F_MIN, b.freq)) * 10) / 10;
      b.gain_db = Math.round(Math.min(24, Math.max(-24, b.gain_db)) * 10) / 10;
      b.q = Math.round(Math.min(100, Math.max(0.1, b.q)) * 1000) / 1000;
      const old = this.bands[i];
      this.bands[i] = b;
      this.draw();
      if (b.freq !== old.freq) freq.send(b.freq);
      if (b.gain_db !== old.gain_db && GAIN_KINDS.has(b.kind)) gain.send(b.gain_db);
      if (b.q !== old.q) q.send(b.q);
    };
    /** @param {PointerEvent} e */
    const at = (e) => {
      const r = this.plot.getBoundingClientRect();
      const x = ((e.clientX - r.left) / r.width) * W;
      const y = ((e.clientY - r.top) / r.height) * H;
      const kind = this.bands[i].kind;
      return GAIN_KINDS.has(kind) ? { freq: fOf(x), gain_db: dbOf(y) } : { freq: fOf(x) };
    };
    c.addEventListener("pointerdown", (e) => {
      this.dragging = i;
      c.setPointerCapture(e.pointerId);
      c.focus();
      e.preventDefault();
    });
    c.addEventListener("pointermove", (e) => {
      if (this.dragging === i) change(at(e));
    });
    /** @param {PointerEvent} e */
    const up = (e) => {
      if (this.dragging !== i) return;
      this.dragging = null;
      c.releasePointerCapture(e.pointerId);
      settle();
    };
    c.addEventListener("pointerup", up);
    c.addEventListener("pointercancel", up);
    c.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        change({ q: this.bands[i].q * (e.deltaY < 0 ? 1.1 : 1 / 1.1) });
      },
      { passive: false },
    );
    c.addEventListener("keydown", (e) => {
      const b = this.bands[i];
      const semitone = 2 ** (1 / 12);
      /** @type {Record<string, Partial<Band>>} */
      const keys = {
        ArrowLeft: { freq: b.freq / semitone },
        ArrowRight: { freq: b.freq * semitone },
        ArrowUp: { gain_db: b.gain_db + 0.5 },
        ArrowDown: { gain_db: b.gain_db - 0.5 },
        PageUp: { q: b.q * 1.25 },
        PageDown: { q: b.q / 1.25 },
      };
      if (!(e.key in keys)) return;
      e.preventDefault();
      change(keys[e.key]);
    });
    this.plot.append(c);
    return c;
  }

  /** The bands' table: kind, on, remove. */
  table() {
    const kinds = /** @type {string[]} */ (this.model.param(`${this.target}/eq/1/kind`)?.values ?? ["peak"]);
    const rows = this.bands.map((b, i) => {
      const base = `${this.target}/eq/${i + 1}`;
      const select = h("select", { "aria-label": `${this.label} EQ band ${i + 1} kind` }, kinds.map((k) => h("option", { value: k }, [k])));
      select.value = b.kind;
      select.addEventListener("change", () => this.api.set(`${base}/kind`, select.value).catch((e) => this.say(e.message)));
      this.model.watch(`${base}/kind`, (v) => (select.value = String(v)));
      const on = toggleButton(`${this.label} EQ band ${i + 1} on`, "On", "send", (pressed) => this.api.set(`${base}/on`, pressed).catch((e) => this.say(e.message)));
      setPressed(on, b.on);
      this.model.watch(`${base}/on`, (v) => setPressed(on, v !== false));
      const remove = h("button", { type: "button", "aria-label": `remove ${this.label} EQ band ${i + 1}`, onclick: () => this.removeBand(i) }, ["Remove"]);
      return h("div", { class: "eq-band" }, [h("span", {}, [`${i + 1}`]), select, on, remove]);
    });
    this.list.replaceChildren(...rows);
  }

  /** @param {Band[]} bands */
  async setBands(bands) {
    const settings = bands.length ? bands.map((b) => ({ kind: b.kind, freq: b.freq, q: b.q, gain_db: b.gain_db, on: b.on, ...(b.slope ? { slope: b.slope } : {}) })) : null;
    try {
      await this.api.request("set_processor", { target: this.target, processor: "eq", settings });
    } catch (e) {
      this.say(e instanceof Error ? e.message : String(e));
    }
  }

  addBand() {
    if (this.bands.length >= 8) return this.say("an EQ has 8 bands at most");
    const freqs = [1000, 100, 10000, 300, 3000, 50, 6000, 600];
    this.setBands([...this.bands, { kind: "peak", freq: freqs[this.bands.length], q: 0.707, gain_db: 0, on: true, slope: null }]);
  }

  /** @param {number} i */
  removeBand(i) {
    this.setBands(this.bands.filter((_, j) => j !== i));
  }
}
