// The console's performance in headless Chromium (run by hand: `node test/perf.mjs`
// after `cargo build -p troubadour`; figures go into docs/PERFORMANCE.md): a 32-strip
// session with meters at 60 Hz; frames drawn per second over 10 s (requestAnimationFrame),
// page weight, and the time from navigation to the first built console.

import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { ARTIFACTS, launch, startMixer } from "./harness.js";

const STRIPS = Number(process.env.STRIPS ?? 32);
const SECONDS = Number(process.env.SECONDS ?? 10);

let toml = "version = 1\nsample_rate = 48000\nblock_frames = 256\n";
for (let i = 1; i <= STRIPS; i++) {
  toml += `\n[[strip]]\nname = "S${i}"\nchannels = 2\nsource = { generator = "sine", freq = ${110 * i}.0, level_db = -${6 + (i % 30)}.0 }\nsends = { A1 = {}, B1 = { level_db = -6.0 } }\n`;
}
toml += '\n[[bus]]\nname = "A1"\nchannels = 2\n\n[[bus]]\nname = "B1"\nchannels = 2\n';
const session = resolve(ARTIFACTS, `perf-${STRIPS}.toml`);
writeFileSync(session, toml);

const mixer = await startMixer({ args: [session] });
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  /** @type {Promise<number>[]} */
  const sizes = [];
  page.on("response", (r) => {
    if (!r.url().includes("/api/")) sizes.push(r.body().then((b) => b.length));
  });
  // Ask for 60 Hz meters instead of the page's 30.
  await page.addInitScript(() => {
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (/** @type {string} */ data) {
      return send.call(this, String(data).replace('"rate":30', '"rate":60'));
    };
  });
  const start = Date.now();
  await page.goto(mixer.url + "/");
  await page.getByRole("slider", { name: `S${STRIPS} fader` }).waitFor();
  await page.locator('#st-conn[data-state="connected"]').waitFor();
  const firstRender = Date.now() - start;
  const weight = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
  const { fps, frames } = await page.evaluate(async (seconds) => {
    const { framesDrawn } = /** @type {any} */ (window).troubadour;
    const f0 = framesDrawn();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const frames = framesDrawn() - f0;
    return { frames, fps: frames / ((performance.now() - t0) / 1000) };
  }, SECONDS);
  const metrics = await page.evaluate(() => ({ heapMb: /** @type {any} */ (performance).memory?.usedJSHeapSize / 1e6 }));
  console.log(JSON.stringify({ strips: STRIPS, meterHz: 60, seconds: SECONDS, frames, fps: Math.round(fps * 10) / 10, firstRenderMs: firstRender, pageBytes: weight, heapMb: metrics.heapMb }));
} finally {
  await browser.close();
  await mixer.stop();
}
