// The page's start: connect (asking for the token when the API wants one), subscribe,
// fetch the state, build the console, then keep it in step with the server's events.
// When the connection drops, say so and reconnect with backoff, then refresh.

import { Api } from "./api.js";
import { Console } from "./console.js";
import { byId, setPressed } from "./dom.js";
import { framesDrawn } from "./meter.js";
import { Model } from "./model.js";
import { Panels } from "./panels.js";
import { SpectrumView } from "./spectrum.js";
import { setupToolbar, showScenes } from "./scenes.js";
import { showConnection, showStatus } from "./status.js";

/** Meter frames asked for, per second. */
const METER_RATE = 30;
/** The performance mark set once the console is first built and connected. */
const READY = "troubadour:ready";
/** Reconnection backoff, ms: first wait and longest. */
const BACKOFF_MS = [250, 5000];

const model = new Model();
const api = new Api(askToken);
const mixer = new Console(api, model, byId("strips", HTMLElement), byId("buses", HTMLElement));
const panels = new Panels(api, model, say);
mixer.onProcessing = (/** @type {string} */ target) => panels.show(target);
const spectrum = new SpectrumView(api, say);
mixer.onSpectrum = (/** @type {string} */ target, /** @type {string} */ name) => spectrum.open(target, name);
/** Set while a state is being fetched: events wait here, to be replayed after it. */
/** @type {import("./api.js").ApiEvent[] | null} */
let backlog = null;

/** @returns {Promise<string>} */
function askToken() {
  const dialog = byId("token-dialog", HTMLDialogElement);
  const input = byId("token-input", HTMLInputElement);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(input.value), { once: true });
    if (!dialog.open) dialog.showModal();
  });
}

/** @param {string} message */
function say(message) {
  const el = byId("message", HTMLElement);
  el.textContent = message;
  clearTimeout(Number(el.dataset.timer));
  el.dataset.timer = String(setTimeout(() => (el.textContent = ""), 6000));
}

/** @param {import("./api.js").ApiEvent} event */
function onEvent(event) {
  if (event.event === "meters") {
    mixer.meters(event);
    return;
  }
  if (event.event === "spectrum") {
    spectrum.frame(event);
    return;
  }
  if (event.event === "status") {
    showStatus(event);
    return;
  }
  if (backlog) {
    backlog.push(event);
    return;
  }
  handle(event);
}

/**
 * A refresh that failed outside the connection loop: the loop notices the drop itself.
 * @param {unknown} e
 */
function lost(e) {
  console.warn("refresh:", e);
}

/** @param {import("./api.js").ApiEvent} event */
function handle(event) {
  const seq = Number(event.seq);
  switch (event.event) {
    case "changed":
      if (String(event.path).endsWith("/name")) refresh().catch(lost);
      else model.apply(String(event.path), event.value, seq);
      break;
    case "structure_changed":
      if (seq > model.seq) refresh().catch(lost);
      break;
    case "scenes_changed":
      showScenes(/** @type {string[]} */ (event.scenes ?? []));
      break;
    default:
      if (typeof event.message === "string") say(event.message);
  }
}

/** The refresh under way, if one is. */
/** @type {Promise<void> | null} */
let refreshing = null;
/** Another refresh was asked for while one was under way. */
let again = false;

/**
 * Fetches the state and rebuilds what changed. One at a time: asked again while one is
 * under way, it fetches once more when that one ends.
 * @param {() => Promise<any>} [load] how (over HTTP unless said otherwise)
 * @returns {Promise<void>}
 */
function refresh(load = stateOverHttp) {
  if (refreshing) {
    again = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      do {
        again = false;
        await fetchState(load);
      } while (again);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** @param {import("./model.js").SessionState} s */
const shape = (s) => JSON.stringify({ s: s.strip?.map((t) => [t.name, Object.keys(t.sends ?? {})]), b: s.bus?.map((b) => b.name) });

/** The state over HTTP, as `GET /api/v1/state` has it. @returns {Promise<any>} */
const stateOverHttp = () => api.http("GET", "/api/v1/state");

/** A `state` reply of the socket, in the shape HTTP gives the state. @param {any} r */
const fromSocket = (r) => ({ ...r.state, seq: r.seq });

/**
 * One fetch of the state; the events that came meanwhile are replayed after it.
 * @param {() => Promise<any>} load
 */
async function fetchState(load) {
  // Events may wait here already: those that came after a state asked for earlier.
  backlog ??= [];
  try {
    const state = await load();
    const before = shape(model.session);
    model.load(state);
    if (before !== shape(model.session) || !mixer.stripsEl.firstChild) mixer.render();
    panels.refresh();
  } finally {
    const events = backlog ?? [];
    backlog = null;
    for (const e of events) if (Number(e.seq) > model.seq) handle(e);
  }
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Connects, and reconnects whenever the connection drops, forever. */
async function run() {
  let wait = BACKOFF_MS[0];
  for (;;) {
    showConnection("connecting");
    try {
      // Two round trips deep, side by side. The status and the schema over HTTP (every
      // time: the server that answers may be a newer one; a 401 there asks for the
      // token) while the socket opens; a socket refused for want of that token is
      // opened again once the person gave it. Then, pipelined on the socket, which
      // answers in order, while the schema may still be on its way: the subscriptions,
      // then the state (so no change falls between them) and the scenes.
      /** @type {() => void} */
      let closed = () => {};
      const done = new Promise((r) => (closed = () => r(undefined)));
      const opening = api.open(() => closed()).then(() => true, () => false);
      const http = Promise.all([api.http("GET", "/api/v1/status"), api.http("GET", "/api/v1/schema")]);
      http.catch(() => {}); // awaited below; not unhandled while the socket opens
      if (!(await opening)) {
        await http;
        await api.open(() => closed());
      }
      backlog = [];
      const socket = Promise.all([
        api.request("subscribe", { topics: ["changes", "status"] }),
        api.request("subscribe", { topics: ["meters"], rate: METER_RATE }),
        api.request("state"),
        api.request("scene_list"),
      ]);
      socket.catch(() => {});
      const [status, schema] = await http;
      showStatus(status.status);
      model.loadSchema(schema.schema);
      const [, , state, scenes] = await socket;
      await refresh(() => Promise.resolve(fromSocket(state)));
      showScenes(/** @type {string[]} */ (scenes.scenes ?? []));
      // A new connection has no subscriptions: the open analyser asks again.
      spectrum.subscribe();
      showConnection("connected");
      // Navigation to a built, connected console, for the performance measurement.
      if (performance.getEntriesByName(READY).length === 0) performance.mark(READY);
      wait = BACKOFF_MS[0];
      await done;
      showConnection("lost");
    } catch (e) {
      showConnection("lost", e instanceof Error ? e.message : String(e));
    }
    await sleep(wait);
    wait = Math.min(BACKOFF_MS[1], wait * 2);
  }
}

api.onEvent = onEvent;
setupToolbar(api, say);
const prePost = byId("meter-pre", HTMLButtonElement);
prePost.addEventListener("click", () => {
  mixer.pre = !mixer.pre;
  setPressed(prePost, mixer.pre);
});
byId("routing", HTMLButtonElement).addEventListener("click", () => panels.show("routing"));
// For the tests and the performance measurement.
Object.assign(window, { troubadour: { model, framesDrawn, spectrum } });
run();
