// Level meters: peak, RMS and peak hold per channel, with a clip light that holds
// until clicked, and gain-reduction meters. Frames arrive at the rate the page asked
// for; one requestAnimationFrame loop moves every bar at the display's own rate:
// peaks rise at once and fall at a fixed rate, RMS glides, so bars never step.

import { h } from "./dom.js";
import { faderToNorm, formatDb, parseDb, tenth } from "./taper.js";

/** The reading's range, dBFS. The bars are drawn on the fader's taper, so the fader's
 * scale beside them reads true for both. */
const FLOOR_DB = -60;
const TOP_DB = 12;
/** Peak fall, dB per second (like a PPM's return). */
const FALL_DB_PER_S = 24;
/** RMS smoothing time constant, s. */
const RMS_TAU_S = 0.06;
/** How long the peak-hold mark stays before it falls, s. */
const HOLD_S = 1.5;
/** At or above this peak the clip light comes on, dBFS. */
const CLIP_DB = -0.1;
/** The numeric reading is rewritten at most this often, s. */
const READOUT_S = 0.1;

/** @param {number} db */
function height(db) {
  return faderToNorm(db);
}

/** All meters on the page, moved by one animation loop. */
/** @type {Set<{ tick: (now: number, dt: number) => void }>} */
const live = new Set();
let last = 0;
/** Frames drawn, for the performance measurement (`window.troubadourFrames`). */
let drawn = 0;

/** @param {number} now */
function animate(now) {
  const dt = last ? Math.min(0.25, (now - last) / 1000) : 0;
  last = now;
  drawn++;
  for (const m of live) m.tick(now / 1000, dt);
  requestAnimationFrame(animate);
}
requestAnimationFrame(animate);

/** Frames drawn since the page loaded. */
export function framesDrawn() {
  return drawn;
}

/** One channel's bars and what they show. */
class Channel {
  constructor() {
    this.rms = h("div", { class: "bar rms" });
    this.peak = h("div", { class: "bar peak" });
    this.hold = h("div", { class: "hold" });
    this.el = h("div", { class: "channel" }, [this.peak, this.rms, this.hold]);
    this.target = { peak: -Infinity, rms: -Infinity };
    this.peakDb = -Infinity;
    this.rmsDb = -Infinity;
    this.holdDb = -Infinity;
    this.holdUntil = 0;
    /** What the bars show now (0..1). */
    this.drawn = { peak: 0, rms: 0, hold: 0 };
  }

  /**
   * @param {number} now s
   * @param {number} dt s
   */
  tick(now, dt) {
    const t = this.target;
    this.peakDb = t.peak >= this.peakDb ? t.peak : Math.max(t.peak, this.peakDb - FALL_DB_PER_S * dt);
    if (!Number.isFinite(this.rmsDb) || !Number.isFinite(t.rms)) this.rmsDb = t.rms;
    else this.rmsDb += (t.rms - this.rmsDb) * (1 - Math.exp(-dt / RMS_TAU_S));
    if (this.peakDb >= this.holdDb) {
      this.holdDb = this.peakDb;
      this.holdUntil = now + HOLD_S;
    } else if (now > this.holdUntil) {
      this.holdDb = Math.max(this.peakDb, this.holdDb - FALL_DB_PER_S * dt);
    }
    // Only what moved by a visible amount is written: a steady meter costs no layout.
    const drawn = this.drawn;
    const peak = height(this.peakDb);
    const rms = height(this.rmsDb);
    const hold = height(this.holdDb);
    if (Math.abs(peak - drawn.peak) > 5e-4) this.peak.style.transform = `scaleY(${(drawn.peak = peak)})`;
    if (Math.abs(rms - drawn.rms) > 5e-4) this.rms.style.transform = `scaleY(${(drawn.rms = rms)})`;
    if (Math.abs(hold - drawn.hold) > 5e-4) {
      this.hold.style.bottom = `${(drawn.hold = hold) * 100}%`;
      this.hold.style.opacity = hold > 0 ? "1" : "0";
    }
  }
}

/**
 * A stereo (or n-channel) meter: role "meter", named "<label> meter", whose
 * `aria-valuenow` is the shown peak (the loudest channel) in dBFS.
 */
export class LevelMeter {
  /** @param {string} label */
  constructor(label) {
    this.label = label;
    /** @type {Channel[]} */
    this.channels = [];
    this.bars = h("div", { class: "bars" });
    this.readout = h("span", { class: "readout", "aria-hidden": "true" }, ["\u2212\u221e"]);
    this.clip = h("button", { type: "button", class: "clip", "aria-label": `${label} clip`, title: "clip: click to clear" }, ["CLIP"]);
    this.clip.addEventListener("click", () => this.clip.classList.remove("lit"));
    this.el = h(
      "div",
      {
        class: "meter",
        role: "meter",
        "aria-label": `${label} meter`,
        "aria-valuemin": String(FLOOR_DB - 60),
        "aria-valuemax": String(TOP_DB),
        "aria-valuenow": String(FLOOR_DB),
        "aria-valuetext": "silence",
      },
      [this.bars],
    );
    this.nextReadout = 0;
    this.shownPeak = -Infinity;
    live.add(this);
  }

  /**
   * The latest frame's levels: [peak, rms] per channel, as the API spells them.
   * @param {Array<[unknown, unknown]>} levels
   */
  update(levels) {
    while (this.channels.length < levels.length) {
      const c = new Channel();
      this.channels.push(c);
      this.bars.append(c.el);
    }
    levels.forEach(([peak, rms], i) => {
      const c = this.channels[i];
      c.target = { peak: parseDb(peak), rms: parseDb(rms) };
      if (c.target.peak >= CLIP_DB) this.clip.classList.add("lit");
    });
  }

  /**
   * @param {number} now
   * @param {number} dt
   */
  tick(now, dt) {
    let loudest = -Infinity;
    for (const c of this.channels) {
      c.tick(now, dt);
      loudest = Math.max(loudest, c.peakDb);
    }
    if (now < this.nextReadout || loudest === this.shownPeak) return;
    this.nextReadout = now + READOUT_S;
    this.shownPeak = loudest;
    const finite = Number.isFinite(loudest);
    this.el.setAttribute("aria-valuenow", String(finite ? tenth(Math.max(loudest, FLOOR_DB - 60)) : FLOOR_DB - 60));
    this.el.setAttribute("aria-valuetext", finite ? formatDb(loudest) : "silence");
    this.readout.textContent = finite ? tenth(loudest).toFixed(1) : "\u2212\u221e";
  }

  /** Stops animating (the console is rebuilt). */
  remove() {
    live.delete(this);
  }
}

/** A gain-reduction meter: a bar that grows downward, role "meter", in dB (≥ 0). */
export class ReductionMeter {
  /** @param {string} label */
  constructor(label) {
    this.bar = h("div", { class: "gr-bar" });
    this.el = h(
      "div",
      {
        class: "gr",
        role: "meter",
        "aria-label": `${label} gain reduction`,
        "aria-valuemin": "0",
        "aria-valuemax": "24",
        "aria-valuenow": "0",
        title: "gain reduction",
      },
      [this.bar],
    );
    this.target = 0;
    this.shown = 0;
    this.drawnScale = 0;
    this.nextReadout = 0;
    live.add(this);
  }

  /** @param {unknown[]} reductions dB each (the largest is shown) */
  update(reductions) {
    this.target = Math.max(0, ...reductions.map((r) => parseDb(r)).filter(Number.isFinite));
  }

  /**
   * @param {number} now
   * @param {number} dt
   */
  tick(now, dt) {
    this.shown = this.target >= this.shown ? this.target : Math.max(this.target, this.shown - FALL_DB_PER_S * dt);
    const scale = Math.min(1, this.shown / 24);
    if (scale !== this.drawnScale) this.bar.style.transform = `scaleY(${(this.drawnScale = scale)})`;
    if (now >= this.nextReadout) {
      this.nextReadout = now + READOUT_S;
      this.el.setAttribute("aria-valuenow", String(tenth(this.shown)));
    }
  }

  remove() {
    live.delete(this);
  }
}
