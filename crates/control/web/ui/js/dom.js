// Small helpers for building elements without a framework.

/**
 * An element with attributes and children. `class` sets className; `on<event>` keys
 * with function values add listeners; other values become attributes (false and
 * undefined omit them).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {Array<Node | string | null | undefined>} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false || value === null) continue;
    if (key === "class") el.className = String(value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) el.append(child);
  }
  return el;
}

/**
 * The element with this id, of this type (throws when the page lacks it).
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
export function byId(id, type) {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`the page has no #${id}`);
  return el;
}

/**
 * A toggle button (aria-pressed) named `label`.
 * @param {string} label accessible name
 * @param {string} text what it shows
 * @param {string} cls
 * @param {(pressed: boolean) => void} onToggle called with the new state
 */
export function toggleButton(label, text, cls, onToggle) {
  const button = h("button", { type: "button", class: `toggle ${cls}`, "aria-label": label, "aria-pressed": "false" }, [text]);
  button.addEventListener("click", () => onToggle(button.getAttribute("aria-pressed") !== "true"));
  return button;
}

/**
 * @param {HTMLElement} button
 * @param {boolean} pressed
 */
export function setPressed(button, pressed) {
  button.setAttribute("aria-pressed", pressed ? "true" : "false");
}
