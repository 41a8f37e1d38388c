// The console: a column per strip (left) and per bus (right), built from the model and
// rebuilt when the structure changes. Every control sends one request; what it shows
// comes from the model.

import { Sender } from "./api.js";
import { h, setPressed, toggleButton } from "./dom.js";
import { createFader } from "./fader.js";
import { LevelMeter, ReductionMeter } from "./meter.js";

/**
 * @typedef {import("./api.js").Api} Api
 * @typedef {import("./model.js").Model} Model
 * @typedef {import("./model.js").StripState} StripState
 * @typedef {import("./model.js").BusState} BusState
 */

/**
 * What a strip plays from, in a few words.
 * @param {StripState} strip
 */
export function sourceLabel(strip) {
  const s = strip.source ?? {};
  if (typeof s.device === "string") return s.device;
  if (typeof s.file === "string") return `file ${s.file}`;
  if (typeof s.generator === "string") {
    const freq = typeof s.freq === "number" ? ` ${s.freq} Hz` : "";
    return `${s.generator}${freq}`;
  }
  return "no source";
}

/**
 * Where a bus plays, in a few words.
 * @param {BusState} bus
 */
export function sinkLabel(bus) {
  const s = bus.sink;
  if (!s) return "no output";
  if (typeof s.device === "string") return s.device;
  if (typeof s.file === "string") return `file ${s.file}`;
  return "output";
}

export class Console {
  /**
   * @param {Api} api
   * @param {Model} model
   * @param {HTMLElement} strips where strip columns go
   * @param {HTMLElement} buses where bus columns go
   */
  constructor(api, model, strips, buses) {
    this.api = api;
    this.model = model;
    this.stripsEl = strips;
    this.busesEl = buses;
    /** Strips' meters show pre-fader levels. */
    this.pre = false;
    /** @type {Map<string, { level: LevelMeter, gr: ReductionMeter }>} */
    this.stripMeters = new Map();
    /** @type {Map<string, { level: LevelMeter, gr: ReductionMeter }>} */
    this.busMeters = new Map();
    /** Opens a strip's or bus's processing (`strip/Mic`). */
    /** @type {(target: string) => void} */
    this.onProcessing = () => {};
    /** Opens a strip's or bus's spectrum (`strip/Mic`, its name). */
    /** @type {(target: string, name: string) => void} */
    this.onSpectrum = () => {};
  }

  /**
   * The button that opens a strip's or bus's EQ and dynamics.
   * @param {string} target
   * @param {string} name
   */
  processingButton(target, name) {
    return h("div", { class: "fx-row" }, [
      h("button", { type: "button", class: "fx", "aria-label": `${name} processing`, onclick: () => this.onProcessing(target) }, ["Processing"]),
      h("button", { type: "button", class: "fx", "aria-label": `${name} spectrum`, onclick: () => this.onSpectrum(target, name) }, ["Spectrum"]),
    ]);
  }

  /** Builds every column afresh from the model. */
  render() {
    for (const m of [...this.stripMeters.values(), ...this.busMeters.values()]) {
      m.level.remove();
      m.gr.remove();
    }
    this.stripMeters.clear();
    this.busMeters.clear();
    this.model.unwatchAll();
    const session = this.model.session;
    const buses = session.bus ?? [];
    this.stripsEl.replaceChildren(...(session.strip ?? []).map((s) => this.strip(s, buses)));
    this.busesEl.replaceChildren(...buses.map((b) => this.bus(b)));
  }

  /**
   * A toggle bound to a boolean parameter.
   * @param {string} path
   * @param {string} label
   * @param {string} text
   * @param {string} cls
   */
  toggle(path, label, text, cls) {
    const button = toggleButton(label, text, cls, (pressed) => sender.send(pressed));
    const sender = new Sender(
      this.api,
      path,
      (value, seq) => this.model.apply(path, value, seq),
      () => setPressed(button, this.model.get(path) === true),
    );
    button.dataset.path = path;
    setPressed(button, this.model.get(path) === true);
    this.model.watch(path, (v) => setPressed(button, v === true));
    return button;
  }

  /**
   * A native range input bound to a numeric parameter (trim, pan).
   * @param {string} path
   * @param {string} label
   * @param {number} step
   * @param {(v: number) => string} format
   */
  knob(path, label, step, format) {
    const param = this.model.param(path);
    const input = h("input", {
      type: "range",
      min: String(param?.min ?? 0),
      max: String(param?.max ?? 1),
      step: String(step),
      "aria-label": label,
      "data-path": path,
    });
    const out = h("output", { class: "knob-value", "aria-hidden": "true" });
    const show = (/** @type {unknown} */ v) => {
      const n = typeof v === "number" ? v : 0;
      input.value = String(n);
      input.setAttribute("aria-valuetext", format(n));
      out.textContent = format(n);
    };
    let held = false;
    const sender = new Sender(
      this.api,
      path,
      (value, seq) => this.model.apply(path, value, seq),
      () => held || show(this.model.get(path)),
    );
    input.addEventListener("input", () => {
      held = true;
      const n = Number(input.value);
      out.textContent = format(n);
      sender.send(n);
    });
    input.addEventListener("change", () => {
      held = false;
      if (!sender.busy) show(this.model.get(path));
    });
    input.addEventListener("dblclick", () => sender.send(Number(param?.default ?? 0)));
    this.model.watch(path, (v) => held || sender.busy || show(v));
    show(this.model.get(path));
    return h("label", { class: "knob" }, [h("span", { class: "knob-name", "aria-hidden": "true" }, [label.split(" ").pop() ?? ""]), input, out]);
  }

  /**
   * @param {StripState} strip
   * @param {BusState[]} buses
   */
  strip(strip, buses) {
    const name = strip.name;
    const base = `strip/${name}`;
    const level = new LevelMeter(name);
    const gr = new ReductionMeter(name);
    this.stripMeters.set(name, { level, gr });
    const sends = buses
      .filter((b) => strip.sends?.[b.name])
      .map((b) => this.toggle(`${base}/send/${b.name}/on`, `${name} to ${b.name}`, b.name, "send"));
    const db = (/** @type {number} */ v) => `${v > 0 ? "+" : v < 0 ? "\u2212" : ""}${Math.abs(v).toFixed(1)} dB`;
    const pan = (/** @type {number} */ v) => (Math.abs(v) < 0.005 ? "C" : `${v < 0 ? "L" : "R"}${Math.round(Math.abs(v) * 100)}`);
    return h("section", { class: "strip", "aria-label": `strip ${name}`, "data-name": name }, [
      h("h2", { class: "name" }, [name]),
      h("div", { class: "endpoint", title: sourceLabel(strip) }, [sourceLabel(strip)]),
      this.knob(`${base}/trim_db`, `${name} trim`, 0.5, db),
      this.knob(`${base}/pan`, `${name} pan`, 0.01, pan),
      h("div", { class: "sends", role: "group", "aria-label": `${name} sends` }, sends),
      this.processingButton(base, name),
      h("div", { class: "levels" }, [createFader({ api: this.api, model: this.model, path: `${base}/fader_db`, label: name }), level.el, gr.el]),
      h("div", { class: "readouts" }, [level.readout, level.clip]),
      h("div", { class: "buttons" }, [
        this.toggle(`${base}/mute`, `${name} mute`, "M", "mute"),
        this.toggle(`${base}/solo`, `${name} solo`, "S", "solo"),
      ]),
    ]);
  }

  /** @param {BusState} bus */
  bus(bus) {
    const name = bus.name;
    const base = `bus/${name}`;
    const level = new LevelMeter(name);
    const gr = new ReductionMeter(name);
    this.busMeters.set(name, { level, gr });
    return h("section", { class: "strip bus", "aria-label": `bus ${name}`, "data-name": name }, [
      h("h2", { class: "name" }, [name]),
      h("div", { class: "endpoint", title: sinkLabel(bus) }, [sinkLabel(bus)]),
      this.processingButton(base, name),
      h("div", { class: "levels" }, [createFader({ api: this.api, model: this.model, path: `${base}/fader_db`, label: name }), level.el, gr.el]),
      h("div", { class: "readouts" }, [level.readout, level.clip]),
      h("div", { class: "buttons" }, [this.toggle(`${base}/mute`, `${name} mute`, "M", "mute")]),
    ]);
  }

  /**
   * A meter frame from the server.
   * @param {any} frame
   */
  meters(frame) {
    for (const s of frame.strips ?? []) {
      const m = this.stripMeters.get(s.name);
      if (!m) continue;
      m.level.update(this.pre ? s.pre : s.post);
      m.gr.update([s.gate_db, s.compressor_db]);
    }
    for (const b of frame.buses ?? []) {
      const m = this.busMeters.get(b.name);
      if (!m) continue;
      m.level.update(b.post);
      m.gr.update([b.compressor_db, b.limiter_db]);
    }
  }
}
