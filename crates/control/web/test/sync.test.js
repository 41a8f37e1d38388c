// Several clients and a server that goes away: a fader moved in one page moves in
// another within 200 ms; a change made elsewhere appears; a restarted server is
// noticed and the page recovers without a reload; a token-protected server is asked
// for its token once, and the page keeps it.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { launch, openConsole, param, put, startMixer, until } from "./harness.js";

describe("several clients", () => {
  /** @type {Awaited<ReturnType<typeof startMixer>>} */
  let mixer;
  /** @type {import("playwright-core").Browser} */
  let browser;

  before(async () => {
    mixer = await startMixer();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await mixer?.stop();
  });

  it("a fader moved in one page moves in the other within 200 ms", async () => {
    const one = await openConsole(browser, mixer.url);
    const two = await openConsole(browser, mixer.url);
    // The second page notes when its fader first shows -6 dB.
    await two.evaluate(() => {
      const fader = document.querySelector('[aria-label="Tone fader"]');
      if (!fader) throw new Error("no fader");
      new MutationObserver(() => {
        if (fader.getAttribute("aria-valuenow") === "-6" && !("seen" in window)) Object.assign(window, { seen: Date.now() });
      }).observe(fader, { attributes: true });
    });
    await one.getByRole("slider", { name: "Tone fader" }).focus();
    for (let i = 0; i < 11; i++) await one.keyboard.press("ArrowDown");
    // Timed from the key's arrival in the first page (both pages share one clock).
    await one.evaluate(() => document.addEventListener("keydown", () => Object.assign(window, { pressed: Date.now() }), { once: true, capture: true }));
    await one.keyboard.press("ArrowDown");
    const start = await one.evaluate(() => /** @type {any} */ (window).pressed);
    const seen = await until(() => two.evaluate(() => /** @type {any} */ (window).seen), (v) => typeof v === "number", 3000, "the other page");
    const delay = seen - start;
    console.log(`the other page followed in ${delay} ms`);
    assert.ok(delay < 200, `${delay} ms`);

    // A change made over HTTP (another client) appears in both.
    await put(mixer.url, "bus/A1/mute", true);
    for (const page of [one, two]) {
      await until(() => page.getByRole("button", { name: "A1 mute", exact: true }).getAttribute("aria-pressed"), (v) => v === "true", 2000, "A1 mute shown");
    }
    await put(mixer.url, "bus/A1/mute", false);
    await one.close();
    await two.close();
  });

  it("a fader being dragged is not yanked back by the echoes of its own changes", async () => {
    const page = await openConsole(browser, mixer.url);
    const fader = page.getByRole("slider", { name: "B1 fader" });
    const box = await fader.locator(".fader-thumb").boundingBox();
    assert.ok(box);
    const x = box.x + box.width / 2;
    let y = box.y + box.height / 2;
    await page.mouse.move(x, y);
    await page.mouse.down();
    /** @type {number[]} */
    const shown = [];
    for (let i = 0; i < 40; i++) {
      y += 3;
      await page.mouse.move(x, y);
      shown.push(Number(await fader.getAttribute("aria-valuenow")));
    }
    await page.mouse.up();
    // Moving down only: every value shown is at or below the one before.
    for (let i = 1; i < shown.length; i++) assert.ok(shown[i] <= shown[i - 1], `jumped back: ${shown.join(", ")}`);
    const last = shown[shown.length - 1];
    await until(() => param(mixer.url, "bus/B1/fader_db"), (v) => v === last, 3000, "the last value kept");
    await page.close();
  });

  it("notices a restarted server and recovers without a reload", async () => {
    const page = await openConsole(browser, mixer.url);
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    const port = mixer.port;
    // Killed outright: no close frame, the socket just goes.
    await mixer.stop("SIGKILL");
    await page.locator('#st-conn[data-state="lost"]').waitFor({ timeout: 5000 });
    assert.match(String(await page.locator("#st-conn").textContent()), /lost/);
    mixer = await startMixer({ listen: `127.0.0.1:${port}` });
    await page.locator('#st-conn[data-state="connected"]').waitFor({ timeout: 10000 });
    assert.equal(await page.evaluate(() => /** @type {any} */ (window).notReloaded), true);
    // The new server's state is shown, and its changes arrive.
    await until(() => page.getByRole("slider", { name: "Tone fader" }).getAttribute("aria-valuenow"), (v) => v === "0", 3000, "the fresh state");
    await put(mixer.url, "strip/Tone/fader_db", -3);
    await until(() => page.getByRole("slider", { name: "Tone fader" }).getAttribute("aria-valuenow"), (v) => v === "-3", 3000, "a change after the restart");
    await page.close();
  });
});

describe("a server that needs a token", () => {
  it("asks for it once on a 401 and keeps it", async () => {
    const mixer = await startMixer({ listen: "0.0.0.0:0" });
    const browser = await launch();
    try {
      assert.ok(mixer.token, "the mixer printed its token");
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(mixer.url + "/");
      const dialog = page.getByRole("dialog", { name: "This mixer needs its token" });
      await dialog.waitFor();
      await page.getByRole("textbox", { name: "Token", exact: true }).fill(String(mixer.token));
      await page.getByRole("button", { name: "Connect" }).click();
      await page.locator('#st-conn[data-state="connected"]').waitFor();
      const fader = page.getByRole("slider", { name: "Tone fader" });
      await fader.focus();
      await page.keyboard.press("ArrowDown");
      const r = await fetch(`${mixer.url}/api/v1/params/strip/Tone/fader_db`, { headers: { Authorization: `Bearer ${mixer.token}` } });
      await until(async () => (await fetch(`${mixer.url}/api/v1/params/strip/Tone/fader_db`, { headers: { Authorization: `Bearer ${mixer.token}` } }).then((x) => x.json())).value, (v) => v === -0.5, 3000, "the change made with the token");
      assert.equal(r.status, 200);
      // Reloaded: the kept token is used, nothing is asked.
      await page.reload();
      await page.locator('#st-conn[data-state="connected"]').waitFor();
      assert.equal(await dialog.isVisible(), false);
      await context.close();
    } finally {
      await browser.close();
      await mixer.stop();
    }
  });
});
