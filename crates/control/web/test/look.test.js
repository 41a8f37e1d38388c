// How the console looks: screenshots at desktop and phone sizes (into the artifacts
// folder), an axe-core scan with no serious or critical violations, the phone layout
// (strips scroll sideways, thumb-sized faders) and the page's weight.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { ARTIFACTS, launch, openConsole, startMixer } from "./harness.js";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * Runs axe in the page; the serious and critical violations.
 * @param {import("playwright-core").Page} page
 */
async function axe(page) {
  await page.evaluate(axeSource);
  /** @type {Array<{ id: string, impact: string, help: string, nodes: Array<{ target: string[] }> }>} */
  const violations = await page.evaluate(async () => (await /** @type {any} */ (window).axe.run(document)).violations);
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

describe("the console's look", () => {
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

  for (const [width, height] of [[1280, 800], [390, 844]]) {
    it(`at ${width}×${height}: a screenshot, and axe finds nothing serious`, async () => {
      const page = await openConsole(browser, mixer.url, { width, height });
      await page.waitForTimeout(700);
      await page.screenshot({ path: `${ARTIFACTS}/console-${width}x${height}.png` });
      const bad = await axe(page);
      assert.deepEqual(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`), []);
      await page.close();
    });
  }

  it("the processing and routing dialogs: axe finds nothing serious", async () => {
    const page = await openConsole(browser, mixer.url);
    await page.getByRole("button", { name: "Tone processing" }).click();
    await page.getByRole("button", { name: "Add band" }).click();
    await page.getByRole("slider", { name: "Tone EQ band 1" }).waitFor();
    await page.getByRole("button", { name: "Add compressor to Tone" }).click();
    await page.getByRole("img", { name: "Tone compressor transfer curve" }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/processing-1280x800.png` });
    assert.deepEqual((await axe(page)).map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), []);
    await page.getByRole("button", { name: "Close" }).click();
    await page.getByRole("button", { name: "Routing" }).click();
    await page.getByRole("textbox", { name: "Tone name" }).waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/routing-1280x800.png` });
    assert.deepEqual((await axe(page)).map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), []);
    await page.close();
  });

  it("on a phone, strips scroll sideways and faders are thumb-sized", async () => {
    const page = await openConsole(browser, mixer.url, { width: 390, height: 844 });
    const { scrolls, pageWidth } = await page.evaluate(() => {
      const main = /** @type {HTMLElement} */ (document.querySelector("main"));
      return { scrolls: main.scrollWidth > main.clientWidth, pageWidth: document.documentElement.scrollWidth };
    });
    assert.ok(scrolls, "the console scrolls sideways");
    assert.ok(pageWidth <= 390, `the page itself is ${pageWidth} px wide`);
    const thumb = await page.getByRole("slider", { name: "Tone fader" }).locator(".fader-thumb").boundingBox();
    assert.ok(thumb && thumb.height >= 44 && thumb.width >= 44, `thumb ${JSON.stringify(thumb)}`);
    await page.close();
  });

  it("is small, and loads nothing from elsewhere", async () => {
    const page = await browser.newPage();
    /** @type {Promise<number>[]} */
    const sizes = [];
    /** @type {string[]} */
    const foreign = [];
    page.on("response", (r) => {
      if (!r.url().startsWith(mixer.url)) foreign.push(r.url());
      else if (!r.url().includes("/api/")) sizes.push(r.body().then((b) => b.length));
    });
    await page.goto(mixer.url + "/");
    await page.locator('#st-conn[data-state="connected"]').waitFor();
    await page.waitForTimeout(300);
    const bytes = (await Promise.all(sizes)).reduce((a, b) => a + b, 0);
    console.log(`page weight: ${bytes} bytes`);
    assert.deepEqual(foreign, []);
    assert.ok(bytes > 5000 && bytes <= 300 * 1024, `${bytes} bytes`);
    await page.close();
  });
});
