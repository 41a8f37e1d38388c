// The panels: the EQ editor (a band's handle dragged changes its frequency and gain
// in the state, and the drawn curve is the cookbook's response), dynamics with their
// transfer curves, the routing matrix, scenes, and undo/redo.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ARTIFACTS, launch, openConsole, param, put, startMixer, state, until } from "./harness.js";

/**
 * The cookbook's peaking EQ, |H| in dB at `f`, written out again here (complex
 * arithmetic on z = e^{jω}) so the page's own copy is checked, not trusted.
 * @param {{ freq: number, q: number, gain_db: number }} band
 * @param {number} f
 * @param {number} fs
 */
function peakDb(band, f, fs) {
  const A = 10 ** (band.gain_db / 40);
  const w0 = (2 * Math.PI * band.freq) / fs;
  const alpha = Math.sin(w0) / (2 * band.q);
  const b = [1 + alpha * A, -2 * Math.cos(w0), 1 - alpha * A];
  const a = [1 + alpha / A, -2 * Math.cos(w0), 1 - alpha / A];
  const w = (2 * Math.PI * f) / fs;
  /** @param {number[]} c */
  const mag2 = (c) => {
    let re = 0;
    let im = 0;
    c.forEach((k, n) => {
      re += k * Math.cos(-n * w);
      im += k * Math.sin(-n * w);
    });
    return re * re + im * im;
  };
  return 10 * Math.log10(mag2(b) / mag2(a));
}

/**
 * The drawn curve's value (dB) at `f`: its SVG path read back through the plot's axes.
 * @param {import("playwright-core").Page} page
 * @param {string} name the plot's accessible name
 * @param {number} f
 */
function drawnDb(page, name, f) {
  return page.evaluate(
    ([name, f]) => {
      const plot = /** @type {SVGSVGElement} */ (document.querySelector(`svg[aria-label="${name}"]`));
      const d = plot.querySelector(".eq-curve")?.getAttribute("d") ?? "";
      const { fmin, fmax, dbspan, width, height } = Object.fromEntries(Object.entries(plot.dataset).map(([k, v]) => [k, Number(v)]));
      const points = [...d.matchAll(/[ML]([-\d.]+) ([-\d.]+)/g)].map((m) => ({
        f: fmin * (fmax / fmin) ** (Number(m[1]) / width),
        db: ((height / 2 - Number(m[2])) / (height / 2)) * dbspan,
      }));
      const i = points.findIndex((p) => p.f >= Number(f));
      const [p0, p1] = [points[i - 1], points[i]];
      if (!p1) throw new Error(`no point at ${f} Hz in ${points.length} points: ${d.slice(0, 300)}`);
      if (!p0) return p1.db;
      const t = Math.log(Number(f) / p0.f) / Math.log(p1.f / p0.f);
      return p0.db + t * (p1.db - p0.db);
    },
    [name, f],
  );
}

describe("the panels", () => {
  /** @type {Awaited<ReturnType<typeof startMixer>>} */
  let mixer;
  /** @type {import("playwright-core").Browser} */
  let browser;
  /** @type {import("playwright-core").Page} */
  let page;

  before(async () => {
    mixer = await startMixer();
    browser = await launch();
    page = await openConsole(browser, mixer.url);
  });
  after(async () => {
    await browser?.close();
    await mixer?.stop();
  });

  it("EQ: a band's handle dragged changes its frequency and gain; the curve is the cookbook's", async () => {
    await page.getByRole("button", { name: "Tone processing" }).click();
    await page.getByRole("button", { name: "Add band" }).click();
    const handle = page.getByRole("slider", { name: "Tone EQ band 1" });
    await handle.waitFor();
    await until(async () => (await state(mixer.url)).strip[0].eq?.length, (n) => n === 1, 3000, "a band in the state");

    const box = await handle.boundingBox();
    const plot = await page.getByRole("group", { name: "Tone EQ response" }).boundingBox();
    assert.ok(box && plot);
    const x0 = box.x + box.width / 2;
    const y0 = box.y + box.height / 2;
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(x0 + i * 0.025 * plot.width, y0 - i * 0.025 * plot.height);
    // Sent while dragging, not only when let go.
    await until(() => param(mixer.url, "strip/Tone/eq/1/freq"), (f) => f > 1000, 3000, "the band moving before the release");
    await page.mouse.up();
    await until(
      async () => (await state(mixer.url)).strip[0].eq[0],
      (b) => b.freq > 2000 && b.gain_db > 5,
      3000,
      "the band moved up and right",
    );
    // Once the last set has landed, the state is what the handle shows.
    await page.waitForTimeout(500);
    const band = (await state(mixer.url)).strip[0].eq[0];
    assert.equal(await param(mixer.url, "strip/Tone/eq/1/freq"), band.freq);
    assert.equal(await param(mixer.url, "strip/Tone/eq/1/gain_db"), band.gain_db);
    assert.match(String(await handle.getAttribute("aria-valuetext")), new RegExp(`\\+${band.gain_db.toFixed(1)} dB`));
    const fs = (await state(mixer.url)).sample_rate;
    for (const f of [band.freq, band.freq / 2, band.freq * 1.5, 100, 1000]) {
      const want = peakDb(band, f, fs);
      const drawn = await drawnDb(page, "Tone EQ response", f);
      assert.ok(Math.abs(drawn - want) <= 0.1, `at ${f} Hz: drawn ${drawn}, cookbook ${want}`);
    }
    // The wheel changes Q.
    const q0 = await param(mixer.url, "strip/Tone/eq/1/q");
    await handle.hover();
    await page.mouse.wheel(0, -100);
    await until(() => param(mixer.url, "strip/Tone/eq/1/q"), (q) => q > q0, 3000, "a higher Q");
    await page.screenshot({ path: `${ARTIFACTS}/eq-1280x800.png` });
  });

  it("gate and compressor: added, with transfer curves, settings change the state", async () => {
    await page.getByRole("button", { name: "Add compressor to Tone" }).click();
    await page.getByRole("img", { name: "Tone compressor transfer curve" }).waitFor();
    await until(async () => (await state(mixer.url)).strip[0].compressor, (c) => Boolean(c), 3000, "a compressor");
    const threshold = page.getByRole("spinbutton", { name: "threshold (dB)" });
    await threshold.fill("-30");
    await threshold.press("Enter");
    await until(() => param(mixer.url, "strip/Tone/compressor/threshold_db"), (v) => v === -30, 3000, "threshold -30");
    // A -18 dBFS sine 12 dB over the threshold at 4:1 is turned down by about 9 dB: the
    // strip's gain-reduction meter shows it.
    await until(
      async () => Number(await page.getByRole("meter", { name: "Tone gain reduction" }).getAttribute("aria-valuenow")),
      (v) => v > 6 && v < 10,
      5000,
      "about 9 dB of gain reduction",
    );
    await page.getByRole("button", { name: "Add gate to Tone" }).click();
    await page.getByRole("img", { name: "Tone gate transfer curve" }).waitFor();
    await until(async () => (await state(mixer.url)).strip[0].gate, (g) => Boolean(g), 3000, "a gate");
    await page.getByRole("button", { name: "Close" }).click();
  });

  it("routing matrix: sends switched, pre-fader, level, removed and added", async () => {
    await page.getByRole("button", { name: "Routing" }).click();
    await page.getByRole("button", { name: "Noise to A1 pre-fader" }).click();
    await until(() => param(mixer.url, "strip/Noise/send/A1/pre_fader"), (v) => v === true, 3000, "pre-fader");
    const level = page.getByRole("spinbutton", { name: "Noise to A1 level" });
    await level.fill("-3");
    await level.press("Enter");
    await until(() => param(mixer.url, "strip/Noise/send/A1/level_db"), (v) => v === -3, 3000, "level -3");
    await page.getByRole("button", { name: "remove Noise to B1" }).click();
    await page.getByRole("button", { name: "add Noise to B1" }).click();
    await until(async () => (await state(mixer.url)).strip[1].sends.B1, (s) => s !== undefined, 3000, "the send back");
    await page.getByRole("button", { name: "Close" }).click();
    // The console's send buttons follow the structure.
    await page.getByRole("button", { name: "Noise to B1", exact: true }).waitFor();
  });

  it("structure: strips and buses added, renamed and removed, in every page", async () => {
    const other = await openConsole(browser, mixer.url);
    await page.getByRole("button", { name: "Routing" }).click();
    await page.getByRole("textbox", { name: "new strip name" }).fill("Mic");
    await page.getByRole("button", { name: "Add strip" }).click();
    await page.getByRole("slider", { name: "Mic fader" }).waitFor({ state: "attached" });
    await until(async () => (await state(mixer.url)).strip.map((/** @type {any} */ s) => s.name), (n) => n.includes("Mic"), 3000, "Mic in the state");
    const rename = page.getByRole("textbox", { name: "Mic name" });
    await rename.fill("Vox");
    await rename.press("Enter");
    await other.getByRole("slider", { name: "Vox fader" }).waitFor();
    await page.getByRole("textbox", { name: "Vox name" }).waitFor();
    await page.getByRole("textbox", { name: "new bus name" }).fill("C1");
    await page.getByRole("button", { name: "Add bus" }).click();
    await page.getByRole("button", { name: "add Vox to C1" }).click();
    await other.getByRole("button", { name: "Vox to C1", exact: true }).waitFor();
    await until(async () => (await state(mixer.url)).strip.find((/** @type {any} */ s) => s.name === "Vox")?.sends?.C1, (s) => s !== undefined, 3000, "the send Vox to C1");
    await page.getByRole("button", { name: "remove Vox", exact: true }).click();
    await page.getByRole("button", { name: "remove C1", exact: true }).click();
    await until(async () => (await state(mixer.url)).bus.length, (n) => n === 2, 3000, "C1 gone");
    await until(() => other.getByRole("slider", { name: "Vox fader" }).count(), (n) => n === 0, 3000, "Vox gone from the other page");
    await page.getByRole("button", { name: "Close" }).click();
    await other.close();
  });

  it("scenes: saved, recalled with a fade, deleted; undo and redo", async () => {
    await put(mixer.url, "strip/Tone/fader_db", -10);
    await page.getByRole("textbox", { name: "Save as" }).fill("Intro");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await until(() => page.getByRole("combobox", { name: "Scene" }).inputValue(), (v) => v === "Intro", 3000, "Intro listed");
    await put(mixer.url, "strip/Tone/fader_db", 0);
    await page.getByRole("spinbutton", { name: "Fade ms" }).fill("300");
    await page.getByRole("button", { name: "Recall" }).click();
    await until(() => param(mixer.url, "strip/Tone/fader_db"), (v) => v === -10, 3000, "the scene's fader");
    await until(() => page.getByRole("slider", { name: "Tone fader" }).getAttribute("aria-valuenow"), (v) => v === "-10", 3000, "the page shows it");
    await page.getByRole("button", { name: "Delete" }).click();
    await until(async () => (await (await fetch(`${mixer.url}/api/v1/scenes`)).json()).scenes, (s) => s.length === 0, 3000, "no scenes");

    await put(mixer.url, "bus/B1/fader_db", -4);
    await page.getByRole("button", { name: "Undo" }).click();
    await until(() => param(mixer.url, "bus/B1/fader_db"), (v) => v !== -4, 3000, "undone");
    await page.getByRole("button", { name: "Redo" }).click();
    await until(() => param(mixer.url, "bus/B1/fader_db"), (v) => v === -4, 3000, "redone");
    await until(() => page.getByRole("slider", { name: "B1 fader" }).getAttribute("aria-valuenow"), (v) => v === "-4", 3000, "the page shows it");
  });
});
