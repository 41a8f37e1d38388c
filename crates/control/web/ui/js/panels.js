// The dialogs over the console: a strip's or bus's processing (EQ and dynamics), and
// the routing matrix (strips × buses). Each is rebuilt from the model whenever the
// state is refetched, so what it shows is what the server has.

import { Sender } from "./api.js";
import { byId, h, setPressed, toggleButton } from "./dom.js";
import { dynamicsPanel } from "./dynamics.js";
import { EqEditor } from "./eq.js";
import { parseDb, wireDb } from "./taper.js";

/**
 * @typedef {import("./api.js").Api} Api
 * @typedef {import("./model.js").Model} Model
 */

export class Panels {
  /**
   * @param {Api} api
   * @param {Model} model
   * @param {(message: string) => void} say
   */
  constructor(api, model, say) {
    this.api = api;
    this.model = model;
    this.say = say;
    this.dialog = byId("panel", HTMLDialogElement);
    this.title = byId("panel-title", HTMLElement);
    this.body = byId("panel-body", HTMLElement);
    /** What is open: a target (`strip/Mic`), "routing", or nothing. */
    /** @type {string | null} */
    this.open = null;
    this.drop = () => {};
    // The fields for new strips and buses outlive rebuilds: a name half typed is kept
    // when another client changes something meanwhile.
    this.stripName = h("input", { type: "text", "aria-label": "new strip name", placeholder: "strip name", autocomplete: "off" });
    this.source = h("select", { "aria-label": "new strip source" }, [
      h("option", { value: "sine" }, ["sine 440 Hz"]),
      h("option", { value: "pink" }, ["pink noise"]),
      h("option", { value: "silence" }, ["silence"]),
    ]);
    this.busName = h("input", { type: "text", "aria-label": "new bus name", placeholder: "bus name", autocomplete: "off" });
    byId("panel-close", HTMLButtonElement).addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => {
      this.open = null;
      this.drop();
      this.body.replaceChildren();
    });
  }

  /** @param {string} what a target (`strip/Mic`) or "routing" */
  show(what) {
    this.open = what;
    this.refresh();
    if (!this.dialog.open) this.dialog.showModal();
  }

  /** Rebuilds what is open from the model. */
  refresh() {
    if (!this.open) return;
    this.drop();
    const what = this.open;
    const focused = document.activeElement;
    const focusLabel = focused && this.body.contains(focused) ? focused.getAttribute("aria-label") : null;
    const [content, drop] = this.model.collect(() => (what === "routing" ? this.routing() : this.processing(what)));
    this.drop = drop;
    if (!content) {
      this.dialog.close();
      return;
    }
    this.body.replaceChildren(content);
    // The control that had the focus has it again in the rebuilt panel.
    if (focusLabel) {
      const again = [...this.body.querySelectorAll("[aria-label]")].find((e) => e.getAttribute("aria-label") === focusLabel);
      if (again instanceof HTMLElement || again instanceof SVGElement) again.focus();
    }
  }

  /** @param {string} target */
  processing(target) {
    const table = this.model.table(target);
    if (!table) return null;
    const name = String(table.name);
    this.title.textContent = `${name}: processing`;
    const eq = new EqEditor(this.api, this.model, target, name, this.say);
    /** @type {Array<"gate" | "compressor" | "limiter">} */
    const dynamics = target.startsWith("strip/") ? ["gate", "compressor"] : ["compressor", "limiter"];
    return h("div", { class: "processing" }, [
      h("section", { class: "eq-section", "aria-label": `${name} EQ` }, [h("h3", {}, ["EQ"]), eq.el]),
      h("div", { class: "dyn-row" }, dynamics.map((p) => dynamicsPanel(this.api, this.model, target, name, p, this.say))),
    ]);
  }

  /**
   * One request; a refusal is said.
   * @param {string} op
   * @param {Record<string, unknown>} fields
   */
  edit(op, fields) {
    return this.api.request(op, fields).catch((e) => this.say(e.message));
  }

  /**
   * A strip's or bus's name, renamed in place, and its remove button.
   * @param {"strip" | "bus"} kind
   * @param {string} name
   */
  header(kind, name) {
    const input = h("input", { type: "text", value: name, "aria-label": `${name} name`, class: "rename", autocomplete: "off" });
    input.addEventListener("change", () => {
      const to = input.value.trim();
      if (to && to !== name) this.edit(`rename_${kind}`, { [kind]: name, name: to });
    });
    const remove = h("button", { type: "button", "aria-label": `remove ${name}`, onclick: () => this.edit(`remove_${kind}`, { [kind]: name }) }, ["\u00d7"]);
    return h("div", { class: "header" }, [input, remove]);
  }

  /** The matrix: a row per strip, a column per bus; each cell a send or a way to add
   * one; names to rename, strips and buses to add and remove. */
  routing() {
    this.title.textContent = "Routing";
    const strips = this.model.session.strip ?? [];
    const buses = this.model.session.bus ?? [];
    const head = h("tr", {}, [h("th", { scope: "col" }, ["strip \\ bus"]), ...buses.map((b) => h("th", { scope: "col" }, [this.header("bus", b.name)]))]);
    const rows = strips.map((s) =>
      h("tr", {}, [h("th", { scope: "row" }, [this.header("strip", s.name)]), ...buses.map((b) => h("td", {}, [this.cell(s.name, b.name, Boolean(s.sends?.[b.name]))]))]),
    );
    const { stripName, source, busName } = this;
    const addStrip = () => {
      const name = stripName.value.trim();
      if (!name) return;
      const generator = source.value;
      const src = generator === "sine" ? { generator, freq: 440, level_db: -18 } : generator === "pink" ? { generator, level_db: -30 } : { generator };
      this.edit("add_strip", { strip: { name, channels: 2, source: src } });
    };
    const addBus = () => {
      const name = busName.value.trim();
      if (name) this.edit("add_bus", { bus: { name, channels: 2 } });
    };
    return h("div", { class: "routing" }, [
      h("table", { class: "matrix" }, [h("thead", {}, [head]), h("tbody", {}, rows)]),
      h("div", { class: "add-row" }, [stripName, source, h("button", { type: "button", onclick: addStrip }, ["Add strip"])]),
      h("div", { class: "add-row" }, [busName, h("button", { type: "button", onclick: addBus }, ["Add bus"])]),
    ]);
  }

  /**
   * @param {string} strip
   * @param {string} bus
   * @param {boolean} exists
   */
  cell(strip, bus, exists) {
    const who = `${strip} to ${bus}`;
    /** @param {string} op */
    const edit = (op) => this.edit(op, { strip, bus });
    if (!exists) return h("button", { type: "button", class: "add-send", "aria-label": `add ${who}`, onclick: () => edit("add_send") }, ["+"]);
    const base = `strip/${strip}/send/${bus}`;
    /**
     * @param {string} key
     * @param {string} label
     * @param {string} text
     */
    const toggle = (key, label, text) => {
      const path = `${base}/${key}`;
      const b = toggleButton(label, text, "send", (pressed) => this.api.set(path, pressed).catch((e) => this.say(e.message)));
      setPressed(b, this.model.get(path) === true);
      this.model.watch(path, (v) => setPressed(b, v === true));
      return b;
    };
    const levelPath = `${base}/level_db`;
    const level = h("input", { type: "number", step: "0.5", min: "-90", max: "12", "aria-label": `${who} level`, title: "dB; empty for off" });
    const showLevel = (/** @type {unknown} */ v) => {
      const db = parseDb(v);
      level.value = Number.isFinite(db) ? String(db) : "";
    };
    showLevel(this.model.get(levelPath));
    const sender = new Sender(this.api, levelPath, (v, seq) => this.model.apply(levelPath, v, seq), () => showLevel(this.model.get(levelPath)));
    this.model.watch(levelPath, (v) => sender.busy || showLevel(v));
    level.addEventListener("change", () => sender.send(level.value === "" ? "-inf" : wireDb(Number(level.value))));
    return h("div", { class: "send-cell" }, [
      toggle("on", `${who} on`, "On"),
      level,
      toggle("pre_fader", `${who} pre-fader`, "Pre"),
      h("button", { type: "button", "aria-label": `remove ${who}`, onclick: () => edit("remove_send") }, ["\u00d7"]),
    ]);
  }
}
