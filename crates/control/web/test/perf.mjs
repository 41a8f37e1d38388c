// The console's performance in headless Chromium (run by hand: `node test/perf.mjs`
// after `cargo build --release -p troubadour` with `TROUBADOUR_BIN=../../../target/release/troubadour`,
// or against the debug build; figures go into docs/PERFORMANCE.md). A session of 32
// stereo strips and 8 buses (STRIPS, BUSES to change it), meters at 60 Hz:
// - frames drawn per second over SECONDS (the page's requestAnimationFrame count);
// - the page's main thread busy, as a share of the window (Chromium's TaskDuration);
// - first render: navigation to a built, connected console (the page's own mark);
// - page weight (every response but the API's);
// - the daemon's CPU (utime + stime from /proc) over a window with no page, then one
//   with the page open: what one page with meters costs it; then one more window with
//   the page also showing strip S1's spectrum analyser: what the analyser costs it.

import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { ARTIFACTS, launch, startMixer } from "./harness.js";

const STRIPS = Number(process.env.STRIPS ?? 32);
const BUSES = Number(process.env.BUSES ?? 8);
const SECONDS = Number(process.env.SECONDS ?? 10);

const buses = Array.from({ length: BUSES }, (_, i) => (i < BUSES / 2 ? `A${i + 1}` : `B${i + 1 - Math.ceil(BUSES / 2)}`));
let toml = "version = 1\nsample_rate = 48000\nblock_frames = 256\n";
for (let i = 1; i <= STRIPS; i++) {
  const sends = buses.map((b, k) => `${b} = { level_db = -${k * 3}.0 }`).join(", ");
  toml += `\n[[strip]]\nname = "S${i}"\nchannels = 2\nsource = { generator = "sine", freq = ${110 * i}.0, level_db = -${6 + (i % 30)}.0 }\nsends = { ${sends} }\n`;
}
for (const b of buses) toml += `\n[[bus]]\nname = "${b}"\nchannels = 2\n`;
const session = resolve(ARTIFACTS, `perf-${STRIPS}x${BUSES}.toml`);
writeFileSync(session, toml);

/** The daemon's CPU time so far, seconds (utime + stime). @param {number} pid */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat(5), counted from the state (field 3) here; 100 ticks/s.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The daemon's share of a core over `seconds`. @param {number} pid @param {number} seconds */
async function cpuOver(pid, seconds) {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return (cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000);
}

const mixer = await startMixer({ args: [session] });
const browser = await launch();
try {
  const pid = /** @type {number} */ (mixer.proc.pid);
  const daemonAtRest = await cpuOver(pid, SECONDS);
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
  await page.goto(mixer.url + "/");
  await page.locator('#st-conn[data-state="connected"]').waitFor();
  const firstRender = await page.evaluate(() => performance.getEntriesByName("troubadour:ready")[0]?.startTime);
  const weight = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
  await page.waitForTimeout(1000);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const taskSeconds = async () => (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "TaskDuration")?.value ?? NaN;
  const busy0 = await taskSeconds();
  const c0 = cpuSeconds(pid);
  const { fps, frames, seconds } = await page.evaluate(async (seconds) => {
    const { framesDrawn } = /** @type {any} */ (window).troubadour;
    const f0 = framesDrawn();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const frames = framesDrawn() - f0;
    const elapsed = (performance.now() - t0) / 1000;
    return { frames, fps: frames / elapsed, seconds: elapsed };
  }, SECONDS);
  const daemonWithPage = (cpuSeconds(pid) - c0) / seconds;
  const busy = ((await taskSeconds()) - busy0) / seconds;
  await page.getByRole("button", { name: "S1 spectrum" }).click();
  await page.waitForTimeout(1000);
  const daemonWithSpectrum = await cpuOver(pid, SECONDS);
  const heapMb = await page.evaluate(() => /** @type {any} */ (performance).memory?.usedJSHeapSize / 1e6);
  const pct = (/** @type {number} */ x) => Math.round(x * 1000) / 10;
  console.log(
    JSON.stringify({
      strips: STRIPS,
      buses: BUSES,
      meterHz: 60,
      seconds: SECONDS,
      frames,
      fps: Math.round(fps * 10) / 10,
      mainThreadBusyPct: pct(busy),
      firstRenderMs: Math.round(firstRender ?? NaN),
      pageBytes: weight,
      heapMb: Math.round(heapMb * 10) / 10,
      daemonCpuAtRestPct: pct(daemonAtRest),
      daemonCpuWithPagePct: pct(daemonWithPage),
      daemonCpuForThePagePct: pct(daemonWithPage - daemonAtRest),
      daemonCpuWithSpectrumPct: pct(daemonWithSpectrum),
      daemonCpuForTheSpectrumPct: pct(daemonWithSpectrum - daemonWithPage),
    }),
  );
} finally {
  await browser.close();
  await mixer.stop();
}
