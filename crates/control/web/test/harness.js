// What the browser tests share: a mixer of our own (`troubadour run --backend null`)
// on a free loopback port, headless Chromium through playwright-core, and small API
// helpers.

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, "../../../..");
export const BINARY = process.env.TROUBADOUR_BIN ?? resolve(ROOT, "target/debug/troubadour");
export const ARTIFACTS = process.env.WEB_ARTIFACTS ?? resolve(ROOT, "target/web-artifacts");
mkdirSync(ARTIFACTS, { recursive: true });

const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

/**
 * Starts a mixer; resolves once it prints its API address.
 * @param {{ listen?: string, args?: string[] }} [options]
 * @returns {Promise<{ url: string, port: number, token: string | undefined, proc: import("node:child_process").ChildProcess, stop: (signal?: NodeJS.Signals) => Promise<void> }>}
 */
export function startMixer({ listen = "127.0.0.1:0", args = [] } = {}) {
  const proc = spawn(BINARY, ["run", ...args, "--backend", "null", "--listen", listen], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, XDG_CONFIG_HOME: resolve(ARTIFACTS, "config") },
  });
  let out = "";
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the mixer did not start:\n${out}`)), 20000);
    const read = (/** @type {Buffer} */ chunk) => {
      out += chunk.toString();
      const m = out.match(/control API on (http:\/\/[^/\s]+)\/api\/v1/);
      if (m) {
        clearTimeout(timer);
        proc.stdout?.off("data", read);
        proc.stdout?.resume();
        proc.stderr?.resume();
        // A mixer listening on every address is reached on loopback.
        const url = m[1].replace("://0.0.0.0:", "://127.0.0.1:");
        // Not on loopback, the mixer needs the token kept in its config folder.
        const tokenFile = resolve(ARTIFACTS, "config/troubadour/token");
        const token = m[1].includes("://0.0.0.0:") ? readFileSync(tokenFile, "utf8").trim() : undefined;
        const stop = (signal = /** @type {NodeJS.Signals} */ ("SIGTERM")) =>
          new Promise((done) => {
            if (proc.exitCode !== null) return done(undefined);
            proc.once("exit", () => done(undefined));
            proc.kill(signal);
          });
        ok({ url, port: Number(new URL(url).port), token, proc, stop });
      }
    };
    proc.stdout?.on("data", read);
    proc.stderr?.on("data", (c) => (out += c.toString()));
    proc.once("exit", (code) => fail(new Error(`the mixer exited (${code}):\n${out}`)));
  });
}

/** @returns {Promise<import("playwright-core").Browser>} */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: CHROMIUM_ARGS,
    headless: true,
  });
}

/**
 * A page at the console, once it shows it is connected and built.
 * @param {import("playwright-core").Browser} browser
 * @param {string} url
 * @param {{ width: number, height: number }} [viewport]
 */
export async function openConsole(browser, url, viewport = { width: 1280, height: 800 }) {
  const page = await browser.newPage({ viewport });
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(url + "/");
  await page.locator('#st-conn[data-state="connected"]').waitFor();
  await page.getByRole("slider", { name: "Tone fader" }).waitFor();
  return page;
}

/**
 * GET /api/v1/state.
 * @param {string} url
 */
export async function state(url) {
  const r = await fetch(`${url}/api/v1/state`);
  return r.json();
}

/**
 * PUT a parameter.
 * @param {string} url
 * @param {string} path
 * @param {unknown} value
 */
export async function put(url, path, value) {
  const r = await fetch(`${url}/api/v1/params/${path}`, { method: "PUT", body: JSON.stringify({ value }) });
  if (!r.ok) throw new Error(`PUT ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/**
 * GET a parameter's value.
 * @param {string} url
 * @param {string} path
 */
export async function param(url, path) {
  const r = await fetch(`${url}/api/v1/params/${path}`);
  return (await r.json()).value;
}

/**
 * Polls `probe` until `ok` holds of its result, or throws after `ms`.
 * @template T
 * @param {() => Promise<T>} probe
 * @param {(v: T) => boolean} ok
 * @param {number} [ms]
 * @param {string} [what]
 * @returns {Promise<T>}
 */
export async function until(probe, ok, ms = 5000, what = "condition") {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await probe();
    if (ok(last)) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A role="meter" element's reading (aria-valuenow).
 * @param {import("playwright-core").Page} page
 * @param {string} name
 */
export async function meterReading(page, name) {
  return Number(await page.getByRole("meter", { name, exact: true }).getAttribute("aria-valuenow"));
}
