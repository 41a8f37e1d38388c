// The page's pure modules, without a browser: the fader taper and its words, and the
// cookbook filters' known values (a peak's gain at its centre, a shelf's gain at the
// ends and half of it at the corner, -3 dB at a Butterworth low-pass's corner, a
// notch's null, an all-pass's flat magnitude).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { design, magnitudeDb, responseDb } from "../ui/js/biquad.js";
import { faderFromNorm, faderToNorm, formatDb, parseDb, wireDb } from "../ui/js/taper.js";

const FS = 48000;

/**
 * @param {string} kind
 * @param {number} freq
 * @param {number} gain_db
 * @param {number} [q]
 */
const at = (kind, freq, gain_db, q = Math.SQRT1_2) => (/** @type {number} */ f) => magnitudeDb(design({ kind, freq, q, gain_db, on: true }, FS), f, FS);

describe("the fader taper", () => {
  it("puts 0 dB at three quarters and -inf at the bottom", () => {
    assert.equal(faderToNorm(0), 0.75);
    assert.equal(faderFromNorm(0.75), 0);
    assert.equal(faderFromNorm(0), -Infinity);
    assert.equal(faderToNorm(-Infinity), 0);
    assert.equal(faderFromNorm(1), 12);
    assert.equal(faderToNorm(-10), 0.5);
  });
  it("goes there and back", () => {
    for (let n = 0.01; n <= 1; n += 0.01) assert.ok(Math.abs(faderToNorm(faderFromNorm(n)) - n) < 1e-12, String(n));
  });
  it("says levels in words", () => {
    assert.equal(formatDb(-6), "\u22126.0 dB");
    assert.equal(formatDb(3.25), "+3.3 dB");
    assert.equal(formatDb(0), "0.0 dB");
    assert.equal(formatDb(-Infinity), "off");
    assert.equal(parseDb("-inf"), -Infinity);
    assert.equal(wireDb(-Infinity), "-inf");
  });
});

describe("the cookbook filters", () => {
  it("a peak has its gain at its centre", () => {
    for (const g of [-12, -3, 6, 18]) assert.ok(Math.abs(at("peak", 1000, g, 2)(1000) - g) < 1e-9);
  });
  it("shelves have their gain at one end, none at the other, half at the corner", () => {
    const low = at("lowshelf", 200, 12);
    assert.ok(Math.abs(low(5) - 12) < 0.01 && Math.abs(low(20000)) < 0.05, `${low(5)} ${low(20000)}`);
    assert.ok(Math.abs(low(200) - 6) < 1e-9);
    const high = at("highshelf", 5000, -9);
    assert.ok(Math.abs(high(23999) + 9) < 0.01 && Math.abs(high(10)) < 0.01);
    assert.ok(Math.abs(high(5000) + 4.5) < 1e-9);
  });
  it("a Butterworth low-pass is -3 dB at its corner; a high-pass too", () => {
    assert.ok(Math.abs(at("lowpass", 1000, 0)(1000) + 3.0103) < 1e-3);
    assert.ok(Math.abs(at("highpass", 100, 0)(100) + 3.0103) < 1e-3);
  });
  it("a notch nulls its centre, a band-pass passes it at 0 dB, an all-pass is flat", () => {
    assert.ok(at("notch", 1000, 0, 4)(1000) < -100);
    assert.ok(Math.abs(at("bandpass", 1000, 0, 4)(1000)) < 1e-9);
    for (const f of [20, 440, 1000, 15000]) assert.ok(Math.abs(at("allpass", 1000, 0)(f)) < 1e-9);
  });
  it("a whole EQ is its bands that are on, in series", () => {
    const bands = [
      { kind: "peak", freq: 1000, q: 1, gain_db: 6, on: true },
      { kind: "peak", freq: 1000, q: 1, gain_db: 6, on: true },
      { kind: "peak", freq: 1000, q: 1, gain_db: 6, on: false },
    ];
    assert.ok(Math.abs(responseDb(bands, 1000, FS) - 12) < 1e-9);
  });
});

describe("the page's entry", () => {
  it("preloads every module, so none waits for the one that imports it", async () => {
    const { readFileSync, readdirSync } = await import("node:fs");
    const ui = new URL("../ui/", import.meta.url);
    const html = readFileSync(new URL("index.html", ui), "utf8");
    const preloaded = [...html.matchAll(/<link rel="modulepreload" href="\/ui\/js\/([^"]+)">/g)].map((m) => m[1]).sort();
    const modules = readdirSync(new URL("js/", ui)).filter((f) => f.endsWith(".js") && f !== "main.js").sort();
    assert.deepEqual(preloaded, modules);
  });
});
