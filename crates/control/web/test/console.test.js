// The console against a real mixer: faders by keyboard and by mouse change the state
// and the meters follow; mute and solo change the state and the bus meters; the
// page's taper is the server's; the controls have the roles and names they should.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { launch, meterReading, openConsole, param, put, startMixer, state, until } from "./harness.js";

/** The Tone generator's level, dBFS (a sine: its peak). */
const TONE_DB = -18;

describe("the console", () => {
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

  /** @param {number} faderDb */
  const toneMeterFollows = (faderDb) =>
    until(() => meterReading(page, "Tone meter"), (v) => Math.abs(v - (TONE_DB + faderDb)) <= 0.5, 5000, `Tone meter at ${TONE_DB + faderDb}`);

  it("has accessible faders, toggles and meters", async () => {
    const fader = page.getByRole("slider", { name: "Tone fader" });
    assert.equal(await fader.getAttribute("aria-valuenow"), "0");
    assert.equal(await fader.getAttribute("aria-valuetext"), "0.0 dB");
    assert.equal(await fader.getAttribute("aria-valuemax"), "12");
    assert.equal(await fader.getAttribute("aria-valuemin"), "-90");
    for (const name of ["Noise fader", "A1 fader", "B1 fader"]) {
      await page.getByRole("slider", { name }).waitFor();
    }
    for (const name of ["Tone mute", "Tone solo", "Noise mute", "A1 mute", "Tone to A1", "Tone to B1", "Noise to B1"]) {
      assert.equal(await page.getByRole("button", { name, exact: true }).getAttribute("aria-pressed"), name.includes(" to ") ? "true" : "false", name);
    }
    await page.getByRole("meter", { name: "A1 meter" }).waitFor();
    await page.getByRole("slider", { name: "Tone trim" }).waitFor();
    await page.getByRole("slider", { name: "Tone pan" }).waitFor();
  });

  it("uses the server's fader taper", async () => {
    for (const norm of [0.03, 0.1, 0.3, 0.6, 0.75, 0.9, 1]) {
      await put(mixer.url, "strip/Noise/fader_db/norm", norm);
      const server = await param(mixer.url, "strip/Noise/fader_db");
      const ours = await page.evaluate(async (n) => {
        const module = "/ui/js/taper.js"; // the page's own copy, as it loaded it
        return (await import(module)).faderFromNorm(n);
      }, norm);
      assert.ok(Math.abs(server - ours) < 1e-6, `norm ${norm}: server ${server}, page ${ours}`);
    }
    await put(mixer.url, "strip/Noise/fader_db", 0);
  });

  it("moves a fader by keyboard: the state and the meter follow", async () => {
    const fader = page.getByRole("slider", { name: "Tone fader" });
    await fader.focus();
    for (let i = 0; i < 12; i++) await page.keyboard.press("ArrowDown");
    assert.equal(await fader.getAttribute("aria-valuenow"), "-6");
    assert.equal(await fader.getAttribute("aria-valuetext"), "\u22126.0 dB");
    await until(async () => (await state(mixer.url)).strip[0].fader_db, (v) => v === -6, 3000, "fader_db -6 in the state");
    await toneMeterFollows(-6);

    await page.keyboard.press("PageUp");
    assert.equal(await fader.getAttribute("aria-valuenow"), "0");
    await page.keyboard.press("PageDown");
    await page.keyboard.press("PageDown");
    assert.equal(await fader.getAttribute("aria-valuenow"), "-12");
    await until(() => param(mixer.url, "strip/Tone/fader_db"), (v) => v === -12, 3000, "fader_db -12");
    await toneMeterFollows(-12);
    await page.keyboard.press("Home");
    assert.equal(await fader.getAttribute("aria-valuenow"), "0");
    await until(() => param(mixer.url, "strip/Tone/fader_db"), (v) => v === 0, 3000, "fader_db back to 0");
  });

  it("moves a fader by mouse drag: the state shows the shown value, the meter follows", async () => {
    const fader = page.getByRole("slider", { name: "Tone fader" });
    const thumb = fader.locator(".fader-thumb");
    const box = await thumb.boundingBox();
    assert.ok(box);
    const x = box.x + box.width / 2;
    const y = box.y + box.height / 2;
    await page.mouse.move(x, y);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(x, y + i * 6);
    await page.mouse.up();
    const shown = Number(await fader.getAttribute("aria-valuenow"));
    assert.ok(shown < -3 && shown > -30, `dragged to ${shown} dB`);
    await until(() => param(mixer.url, "strip/Tone/fader_db"), (v) => v === shown, 3000, `fader_db ${shown}`);
    // The page still shows what it sent once the echoes have come back.
    await page.waitForTimeout(300);
    assert.equal(Number(await fader.getAttribute("aria-valuenow")), shown);
    await toneMeterFollows(shown);

    // A double-click returns it to 0 dB.
    await thumb.dblclick();
    await until(() => param(mixer.url, "strip/Tone/fader_db"), (v) => v === 0, 3000, "fader_db 0 after double-click");
    await toneMeterFollows(0);
  });

  it("mutes and solos: the state and the bus meters follow", async () => {
    const a1 = () => meterReading(page, "A1 meter");
    // Tone alone on A1 (Noise muted): the sine's peak.
    await page.getByRole("button", { name: "Noise mute", exact: true }).click();
    await until(() => param(mixer.url, "strip/Noise/mute"), (v) => v === true, 3000, "Noise muted");
    // The page changes only on the server's word, which reaches it a moment after the state.
    const noiseMute = page.getByRole("button", { name: "Noise mute", exact: true });
    await until(() => noiseMute.getAttribute("aria-pressed"), (v) => v === "true", 3000, "Noise mute lit");
    await until(a1, (v) => Math.abs(v - TONE_DB) <= 0.5, 5000, "A1 at Tone's level");
    // Both muted: A1 is silent.
    await page.getByRole("button", { name: "Tone mute", exact: true }).click();
    await until(() => param(mixer.url, "strip/Tone/mute"), (v) => v === true, 3000, "Tone muted");
    await until(a1, (v) => v < -100, 5000, "A1 silent");
    // Both unmuted, Tone soloed: Noise's contribution is gone again.
    await page.getByRole("button", { name: "Tone mute", exact: true }).click();
    await page.getByRole("button", { name: "Noise mute", exact: true }).click();
    await until(a1, (v) => v > TONE_DB + 2, 5000, "A1 with both strips");
    await page.getByRole("button", { name: "Tone solo", exact: true }).click();
    await until(() => param(mixer.url, "strip/Tone/solo"), (v) => v === true, 3000, "Tone soloed");
    await until(a1, (v) => Math.abs(v - TONE_DB) <= 0.5, 5000, "A1 at Tone's level under solo");
    await page.getByRole("button", { name: "Tone solo", exact: true }).click();
    await until(() => param(mixer.url, "strip/Tone/solo"), (v) => v === false, 3000, "solo off");
  });

  it("switches a send off and on", async () => {
    const send = page.getByRole("button", { name: "Tone to A1", exact: true });
    await send.click();
    await until(() => param(mixer.url, "strip/Tone/send/A1/on"), (v) => v === false, 3000, "send off");
    await until(() => send.getAttribute("aria-pressed"), (v) => v === "false", 3000, "send button off");
    await send.click();
    await until(() => param(mixer.url, "strip/Tone/send/A1/on"), (v) => v === true, 3000, "send on");
    await until(() => send.getAttribute("aria-pressed"), (v) => v === "true", 3000, "send button on");
  });

  it("holds a clip light until it is clicked", async () => {
    await put(mixer.url, "strip/Tone/trim_db", 20);
    const clip = page.getByRole("button", { name: "Tone clip", exact: true });
    await until(() => clip.getAttribute("class"), (c) => String(c).includes("lit"), 5000, "clip lit");
    await put(mixer.url, "strip/Tone/trim_db", 0);
    await page.waitForTimeout(500);
    assert.match(String(await clip.getAttribute("class")), /lit/);
    await clip.click();
    assert.doesNotMatch(String(await clip.getAttribute("class")), /lit/);
  });

  it("switches the strips' meters to pre-fader", async () => {
    await put(mixer.url, "strip/Tone/fader_db", -20);
    await toneMeterFollows(-20);
    const pre = page.getByRole("button", { name: "Pre-fader meters" });
    await pre.click();
    assert.equal(await pre.getAttribute("aria-pressed"), "true");
    await toneMeterFollows(0);
    await pre.click();
    await toneMeterFollows(-20);
    await put(mixer.url, "strip/Tone/fader_db", 0);
  });

  it("shows the status: backend, clock, counters, connection", async () => {
    assert.equal(await page.locator("#st-backend").textContent(), "null");
    assert.equal(await page.locator("#st-rate").textContent(), "48000 Hz");
    assert.match(String(await page.locator("#st-period").textContent()), /256 frames, 5\.33 ms/);
    assert.match(String(await page.locator("#st-load").textContent()), /%$/);
    assert.equal(await page.locator("#st-conn").textContent(), "connected");
  });
});
