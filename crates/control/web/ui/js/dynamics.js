// Gate, compressor and limiter panels: each setting a labelled field bound to its
// parameter, and the processor's static transfer curve (input level → output level).

import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
/** The transfer plot's span, dBFS, on both axes. */
const LO = -100;
const HI = 0;
const SIZE = 200;

/** @param {number} db */
const at = (db) => ((db - LO) / (HI - LO)) * SIZE;

/**
 * The static curves: output level for an input level (dB), from the settings.
 * @type {Record<string, (s: Record<string, number>, x: number) => number>}
 */
export const TRANSFER = {
  // Below the close threshold the gate attenuates by its range (the open threshold
  // is where it opens again, coming up: the hysteresis is drawn as a second line).
  gate: (s, x) => (x >= s.close_db ? x : x + s.range_db),
  // The usual soft knee of width `knee_db` around the threshold, then makeup.
  compressor: (s, x) => {
    const t = s.threshold_db;
    const w = s.knee_db;
    const r = s.ratio;
    let y;
    if (2 * (x - t) < -w) y = x;
    else if (w > 0 && 2 * Math.abs(x - t) <= w) y = x + ((1 / r - 1) * (x - t + w / 2) ** 2) / (2 * w);
    else y = t + (x - t) / r;
    return y + (s.makeup_db ?? 0);
  },
  limiter: (s, x) => Math.min(x, s.ceiling_db),
};

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 */
function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/**
 * One processor's panel.
 * @param {import("./api.js").Api} api
 * @param {import("./model.js").Model} model
 * @param {string} target `strip/Mic`
 * @param {string} label
 * @param {"gate" | "compressor" | "limiter"} processor
 * @param {(message: string) => void} say
 */
export function dynamicsPanel(api, model, target, label, processor, say) {
  const table = model.table(target);
  const title = h("h3", {}, [processor[0].toUpperCase() + processor.slice(1)]);
  const prefix = `${target.startsWith("strip/") ? "strip/{strip}" : "bus/{bus}"}/${processor}/`;
  const params = [...model.schema.values()].filter((p) => p.path.startsWith(prefix));
  if (!table?.[processor]) {
    const add = h("button", { type: "button", "aria-label": `Add ${processor} to ${label}` }, [`Add ${processor}`]);
    add.addEventListener("click", () => {
      /** @type {Record<string, unknown>} */
      const settings = {};
      for (const p of params) if (p.default !== null && p.default !== undefined) settings[p.path.slice(prefix.length)] = p.default;
      api.request("set_processor", { target, processor, settings }).catch((e) => say(e.message));
    });
    return h("section", { class: "dyn", "aria-label": `${label} ${processor}` }, [title, add]);
  }
  const values = () => {
    /** @type {Record<string, number>} */
    const s = {};
    for (const p of params) {
      const v = model.get(`${target}/${processor}/${p.path.slice(prefix.length)}`);
      if (typeof v === "number") s[p.path.slice(prefix.length)] = v;
    }
    return s;
  };
  const plot = svg("svg", { viewBox: `0 0 ${SIZE} ${SIZE}`, class: "dyn-plot", role: "img" });
  plot.setAttribute("aria-label", `${label} ${processor} transfer curve`);
  const unity = svg("path", { class: "dyn-unity", d: `M0 ${SIZE}L${SIZE} 0` });
  const curve = svg("path", { class: "dyn-curve", d: "" });
  const second = svg("path", { class: "dyn-curve second", d: "" });
  plot.append(unity, second, curve);
  const draw = () => {
    const s = values();
    const f = TRANSFER[processor];
    /** @param {(x: number) => number} g */
    const path = (g) => {
      let d = "";
      for (let x = LO; x <= HI; x += 0.5) d += `${d ? "L" : "M"}${at(x).toFixed(1)} ${(SIZE - at(Math.max(LO, g(x)))).toFixed(1)}`;
      return d;
    };
    curve.setAttribute("d", path((x) => f(s, x)));
    second.setAttribute("d", processor === "gate" ? path((x) => (x >= s.open_db ? x : x + s.range_db)) : "");
  };
  const fields = params.map((p) => {
    const key = p.path.slice(prefix.length);
    const path = `${target}/${processor}/${key}`;
    const id = `f-${path.replaceAll("/", "-")}`;
    /** @type {HTMLInputElement | HTMLSelectElement} */
    let input;
    if (p.type === "boolean") {
      input = h("input", { type: "checkbox", id });
      input.checked = model.get(path) === true;
      model.watch(path, (v) => (/** @type {HTMLInputElement} */ (input).checked = v === true));
    } else if (p.type === "enum") {
      input = h("select", { id }, (p.values ?? []).map((v) => h("option", { value: v }, [v])));
      input.value = String(model.get(path));
      model.watch(path, (v) => (input.value = String(v)));
    } else {
      input = h("input", { type: "number", id, min: String(p.min), max: String(p.max), step: "any" });
      input.value = String(model.get(path));
      model.watch(path, (v) => {
        if (document.activeElement !== input) input.value = String(v);
        draw();
      });
    }
    input.addEventListener("change", () => {
      const value = input instanceof HTMLInputElement && input.type === "checkbox" ? input.checked : input instanceof HTMLInputElement ? Number(input.value) : input.value;
      api.set(path, value).catch((e) => say(e.message));
    });
    const unit = p.unit ? ` (${p.unit})` : "";
    return h("div", { class: "field" }, [h("label", { for: id }, [`${key.replace(/_(db|ms)$/, "").replaceAll("_", " ")}${unit}`]), input]);
  });
  const remove = h("button", { type: "button", "aria-label": `Remove ${processor} from ${label}` }, ["Remove"]);
  remove.addEventListener("click", () => api.request("set_processor", { target, processor, settings: null }).catch((e) => say(e.message)));
  draw();
  return h("section", { class: "dyn", "aria-label": `${label} ${processor}` }, [title, plot, h("div", { class: "fields" }, fields), remove]);
}
