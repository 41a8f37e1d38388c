// Scenes (save, recall with a fade, delete) and undo/redo: each one request.

import { byId, h } from "./dom.js";

/** @typedef {import("./api.js").Api} Api */

/**
 * Wires the toolbar's scene and history controls.
 * @param {Api} api
 * @param {(message: string) => void} say reports a refusal
 */
export function setupToolbar(api, say) {
  const select = byId("scene-list", HTMLSelectElement);
  const name = byId("scene-name", HTMLInputElement);
  const fade = byId("scene-fade", HTMLInputElement);
  /** @param {() => Promise<unknown>} action */
  const run = (action) => action().catch((e) => say(e instanceof Error ? e.message : String(e)));
  byId("undo", HTMLButtonElement).addEventListener("click", () => run(() => api.request("undo")));
  byId("redo", HTMLButtonElement).addEventListener("click", () => run(() => api.request("redo")));
  byId("scene-save", HTMLButtonElement).addEventListener("click", () => {
    const n = name.value.trim() || select.value;
    if (n) run(() => api.request("scene_save", { name: n }));
  });
  byId("scene-recall", HTMLButtonElement).addEventListener("click", () => {
    if (select.value) run(() => api.request("scene_recall", { name: select.value, fade_ms: Math.max(0, Number(fade.value) || 0) }));
  });
  byId("scene-delete", HTMLButtonElement).addEventListener("click", () => {
    if (select.value) run(() => api.request("scene_delete", { name: select.value }));
  });
}

/**
 * Shows the scenes' names.
 * @param {string[]} names
 */
export function showScenes(names) {
  const select = byId("scene-list", HTMLSelectElement);
  const keep = select.value;
  select.replaceChildren(...names.map((n) => h("option", { value: n }, [n])));
  if (names.includes(keep)) select.value = keep;
}
