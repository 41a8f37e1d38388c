// A fader on the schema's taper: a vertical slider (role "slider") in dB, driven by
// pointer, keyboard and double-click, that sends its value through a `Sender` and
// follows the model except while it is being moved here.

import { Sender } from "./api.js";
import { h } from "./dom.js";
import { FADER_FLOOR_DB, faderFromNorm, faderToNorm, formatDb, parseDb, tenth, wireDb } from "./taper.js";

/** Scale marks, dB. */
const MARKS = [12, 6, 0, -6, -10, -20, -30, -40, -60];

/**
 * @typedef {{ api: import("./api.js").Api, model: import("./model.js").Model, path: string, label: string }} FaderOptions
 */

/**
 * @param {FaderOptions} options
 * @returns {HTMLElement}
 */
export function createFader({ api, model, path, label }) {
  const param = model.param(path);
  const max = typeof param?.max === "number" ? param.max : 12;
  const min = typeof param?.min === "number" ? param.min : FADER_FLOOR_DB;
  const thumb = h("div", { class: "fader-thumb", "aria-hidden": "true" });
  const scale = h("div", { class: "fader-scale", "aria-hidden": "true" });
  for (const db of MARKS) {
    const mark = h("span", { class: db === 0 ? "mark zero" : "mark" }, [db > 0 ? `+${db}` : String(db)]);
    mark.style.bottom = `${faderToNorm(db) * 100}%`;
    scale.append(mark);
  }
  const off = h("span", { class: "mark" }, ["\u2212\u221e"]);
  off.style.bottom = "0";
  scale.append(off);
  const track = h("div", { class: "fader-track" }, [h("div", { class: "fader-groove" }), thumb]);
  const el = h(
    "div",
    {
      class: "fader",
      role: "slider",
      tabindex: "0",
      "aria-label": `${label} fader`,
      "aria-orientation": "vertical",
      "aria-valuemin": String(min),
      "aria-valuemax": String(max),
      "data-path": path,
    },
    [scale, track],
  );

  let shown = parseDb(model.get(path));
  let dragging = false;
  const sender = new Sender(
    api,
    path,
    (value, seq) => model.apply(path, value, seq),
    () => {
      if (!dragging) show(parseDb(model.get(path)));
    },
  );

  /** @param {number} db */
  function show(db) {
    shown = db;
    const norm = faderToNorm(db);
    thumb.style.bottom = `calc((100% - var(--thumb-h)) * ${norm})`;
    el.setAttribute("aria-valuenow", String(Number.isFinite(db) ? tenth(db) : min));
    el.setAttribute("aria-valuetext", formatDb(db));
    el.title = `${label}: ${formatDb(db)}`;
  }

  /** @param {number} db */
  function move(db) {
    const clamped = db === -Infinity || db < min ? -Infinity : Math.min(max, tenth(db));
    if (clamped === shown) return;
    show(clamped);
    sender.send(wireDb(clamped));
  }

  model.watch(path, (value) => {
    // Our own echoes (and others' moves) wait until the hand lets go.
    if (!dragging && !sender.busy) show(parseDb(value));
  });

  el.addEventListener("keydown", (e) => {
    const base = Number.isFinite(shown) ? shown : min;
    /** @type {Record<string, number>} */
    const steps = { ArrowUp: 0.5, ArrowRight: 0.5, ArrowDown: -0.5, ArrowLeft: -0.5, PageUp: 6, PageDown: -6 };
    if (e.key in steps) {
      const up = steps[e.key] > 0;
      move(!Number.isFinite(shown) && up ? min : base + steps[e.key]);
    } else if (e.key === "Home" || e.key === "0") move(0);
    else if (e.key === "End") move(-Infinity);
    else return;
    e.preventDefault();
  });
  el.addEventListener("dblclick", () => move(0));

  /** Where the grab was, relative to the thumb's centre, so grabbing does not jump. */
  let grab = 0;
  /** @param {PointerEvent} e */
  const normAt = (e) => {
    // The thumb's centre travels between half a thumb from either end.
    const r = track.getBoundingClientRect();
    const half = thumb.offsetHeight / 2;
    return Math.min(1, Math.max(0, (r.bottom - half - (e.clientY - grab)) / (r.height - 2 * half)));
  };
  track.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    const t = thumb.getBoundingClientRect();
    grab = e.target === thumb ? e.clientY - (t.top + t.height / 2) : 0;
    dragging = true;
    track.setPointerCapture(e.pointerId);
    el.focus();
    move(faderFromNorm(normAt(e)));
    e.preventDefault();
  });
  track.addEventListener("pointermove", (e) => {
    if (dragging) move(faderFromNorm(normAt(e)));
  });
  /** @param {PointerEvent} e */
  const release = (e) => {
    if (!dragging) return;
    dragging = false;
    track.releasePointerCapture(e.pointerId);
    if (!sender.busy) show(parseDb(model.get(path)));
  };
  track.addEventListener("pointerup", release);
  track.addEventListener("pointercancel", release);

  show(shown);
  return el;
}
