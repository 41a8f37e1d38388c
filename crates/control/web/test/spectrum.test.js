// The spectrum analyser: opened on the built-in session's sine strip (440 Hz at
// -18 dBFS), its loudest band is the sine's at its level, the canvas shows it there
// (read back pixel by pixel), and closing the window unsubscribes: the mixer's tap
// closes and no more frames arrive.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ARTIFACTS, launch, openConsole, startMixer, until } from "./harness.js";

/**
 * The mixer's count of open spectrum taps, from /metrics.
 * @param {string} url
 */
async function tapsOpen(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("troubadour_spectrum_taps_open "));
  return Number(line?.split(" ")[1]);
}

describe("the spectrum analyser", () => {
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

  it("shows the sine's band at its level, drawn where the axes put it, and unsubscribes when closed", async () => {
    assert.equal(await tapsOpen(mixer.url), 0, "no tap at rest");
    await page.getByRole("button", { name: "Tone spectrum" }).click();
    const canvas = page.getByRole("img", { name: "Tone spectrum" });
    await canvas.waitFor();
    await until(async () => Number(await canvas.getAttribute("data-frames")), (n) => n >= 15, 5000, "spectrum frames");
    assert.equal(await canvas.getAttribute("data-target"), "strip/Tone");
    assert.equal(await tapsOpen(mixer.url), 1);
    // 440 Hz lies in the 1/6-octave band centred on 445.4 Hz.
    const hz = Number(await canvas.getAttribute("data-peak-hz"));
    const db = Number(await canvas.getAttribute("data-peak-db"));
    assert.ok(Math.abs(hz - 445.4) < 0.1, `loudest band ${hz} Hz`);
    assert.ok(Math.abs(db - -18) < 1, `at ${db} dB`);

    // The drawing: the top of the filled trace in the 445 Hz column is at -18 dB on the
    // canvas's dB axis (within a couple of dB of pixels), and far lower at 5 kHz.
    await page.waitForTimeout(200);
    const tops = await page.evaluate(() => {
      const c = /** @type {HTMLCanvasElement} */ (document.getElementById("spectrum-canvas"));
      const g = /** @type {CanvasRenderingContext2D} */ (c.getContext("2d"));
      const ratio = window.devicePixelRatio || 1;
      const pad = 28 * ratio;
      const [pw, ph] = [c.width - pad, c.height - pad];
      /** @param {number} f */
      const column = (f) => Math.round(pad + (Math.log(f / 20) / Math.log(1000)) * pw);
      /** The highest row of the trace's green fill in the column of `f`, as dB. Each
       * band is drawn flat across its 1/6 octave, so the column of its centre meets its
       * top; a row counts from about a quarter covered (the fill over the #111418
       * background is #2b6c4d when whole), which the grid (grey), the labels (grey) and
       * the peak line (yellow) never are. */
      const top = (/** @type {number} */ f) => {
        const data = g.getImageData(column(f), 0, 1, Math.round(ph)).data;
        for (let y = 0; y < ph; y++) {
          const [r, gr, b] = [data[4 * y], data[4 * y + 1], data[4 * y + 2]];
          if (gr - r > 12 && gr - b > 3) return -(y / ph) * 96;
        }
        return -96;
      };
      return { at445: top(445.4), at5k: top(5000) };
    });
    assert.ok(Math.abs(tops.at445 - -18) < 2.5, `drawn at ${tops.at445} dB`);
    assert.ok(tops.at5k < -60, `5 kHz drawn at ${tops.at5k} dB`);
    await page.screenshot({ path: `${ARTIFACTS}/spectrum-1280x800.png` });

    await page.getByRole("button", { name: "Close" }).and(page.locator("#spectrum-close")).click();
    await until(() => tapsOpen(mixer.url), (n) => n === 0, 3000, "the tap closed");
    // Hidden now: read it by id, not by role.
    const hidden = page.locator("#spectrum-canvas");
    const frames = Number(await hidden.getAttribute("data-frames"));
    await page.waitForTimeout(500);
    assert.equal(Number(await hidden.getAttribute("data-frames")), frames, "no frames after closing");
  });
});
