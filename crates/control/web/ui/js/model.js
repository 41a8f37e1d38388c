// The page's copy of the mixer: the session as the server last told it, and every
// parameter's value by canonical path. It changes only on the server's word (the
// state, `changed` events and the replies to our own sets), never on the page's guesses.

/**
 * @typedef {{ path: string, type: string, unit?: string, min?: number | string, max?: number, default: unknown, taper: string, values?: string[] }} Param
 * @typedef {{ name: string, channels?: number, source?: Record<string, unknown>, sends?: Record<string, Record<string, unknown>>, gain_db?: number, fader_db?: number | string, pan?: number, mute?: boolean, solo?: boolean, [k: string]: unknown }} StripState
 * @typedef {{ name: string, channels?: number, sink?: Record<string, unknown> | null, fader_db?: number | string, mute?: boolean, [k: string]: unknown }} BusState
 * @typedef {{ seq: number, sample_rate?: number, strip?: StripState[], bus?: BusState[], [k: string]: unknown }} SessionState
 */

/** Session field names where the namespace's differ. */
const FIELD = { trim_db: "gain_db" };

/**
 * The template of a canonical path: `strip/Mic/send/A1/on` → `strip/{strip}/send/{bus}/on`.
 * @param {string} path
 */
export function templateOf(path) {
  const parts = path.split("/");
  if (parts.length < 3) return path;
  parts[1] = parts[0] === "strip" ? "{strip}" : "{bus}";
  if (parts[2] === "send" && parts.length > 3) parts[3] = "{bus}";
  if (parts[2] === "eq" && parts.length > 3) parts[3] = "{band}";
  return parts.join("/");
}

export class Model {
  constructor() {
    /** @type {Map<string, Param>} */
    this.schema = new Map();
    /** @type {SessionState} */
    this.session = { seq: 0 };
    /** @type {Map<string, unknown>} */
    this.values = new Map();
    /** Sequence number of the last change applied to each path. */
    /** @type {Map<string, number>} */
    this.seqs = new Map();
    this.seq = 0;
    /** @type {Map<string, Set<(value: unknown) => void>>} */
    this.listeners = new Map();
    /** @type {Array<() => void> | null} */
    this.collecting = null;
  }

  /** @param {{ params: Param[] }} schema */
  loadSchema(schema) {
    this.schema = new Map(schema.params.map((p) => [p.path, p]));
  }

  /**
   * The template of a path, if the schema has it.
   * @param {string} path
   */
  param(path) {
    return this.schema.get(templateOf(path));
  }

  /** @param {string} path */
  default(path) {
    return this.param(path)?.default;
  }

  /**
   * Takes a whole state; values the session file leaves out are the schema's defaults.
   * @param {SessionState} state
   */
  load(state) {
    this.session = state;
    this.seq = state.seq;
    this.values.clear();
    this.seqs.clear();
    const buses = state.bus ?? [];
    for (const strip of state.strip ?? []) {
      const base = `strip/${strip.name}`;
      for (const key of ["trim_db", "fader_db", "pan", "mute", "solo"]) {
        this.fill(`${base}/${key}`, strip[FIELD[/** @type {"trim_db"} */ (key)] ?? key]);
      }
      this.fillProcessors(base, strip, "strip/{strip}");
      for (const bus of buses) {
        const send = strip.sends?.[bus.name];
        if (!send) continue;
        for (const key of ["level_db", "on", "pre_fader"]) this.fill(`${base}/send/${bus.name}/${key}`, send[key]);
      }
    }
    for (const bus of buses) {
      for (const key of ["fader_db", "mute"]) this.fill(`bus/${bus.name}/${key}`, bus[key]);
      this.fillProcessors(`bus/${bus.name}`, bus, "bus/{bus}");
    }
    for (const [path, fns] of this.listeners) for (const fn of fns) fn(this.values.get(path));
  }

  /**
   * The EQ bands and the dynamics processors of a strip or bus, where it has them.
   * @param {string} base `strip/Mic`
   * @param {Record<string, unknown>} table the strip's or bus's state
   * @param {string} template `strip/{strip}`
   */
  fillProcessors(base, table, template) {
    const eq = Array.isArray(table.eq) ? table.eq : [];
    eq.forEach((band, i) => {
      for (const key of ["kind", "freq", "q", "gain_db", "slope", "on"]) this.fill(`${base}/eq/${i + 1}/${key}`, band[key]);
    });
    for (const processor of ["gate", "compressor", "limiter"]) {
      const settings = table[processor];
      if (!settings || typeof settings !== "object") continue;
      const prefix = `${template}/${processor}/`;
      for (const path of this.schema.keys()) {
        if (!path.startsWith(prefix)) continue;
        const key = path.slice(prefix.length);
        this.fill(`${base}/${processor}/${key}`, /** @type {Record<string, unknown>} */ (settings)[key]);
      }
    }
  }

  /**
   * The state's table of a strip or bus (`strip/Mic`).
   * @param {string} target
   * @returns {Record<string, unknown> | undefined}
   */
  table(target) {
    const [kind, name] = target.split("/");
    const list = kind === "strip" ? this.session.strip : this.session.bus;
    return list?.find((t) => t.name === name);
  }

  /**
   * The EQ bands of a strip or bus, with their current values.
   * @param {string} target `strip/Mic`
   * @returns {import("./biquad.js").Band[]}
   */
  bands(target) {
    const eq = this.table(target)?.eq;
    const count = Array.isArray(eq) ? eq.length : 0;
    return Array.from({ length: count }, (_, i) => {
      const p = `${target}/eq/${i + 1}`;
      const slope = this.get(`${p}/slope`);
      return {
        kind: String(this.get(`${p}/kind`)),
        freq: Number(this.get(`${p}/freq`)),
        q: Number(this.get(`${p}/q`)),
        gain_db: Number(this.get(`${p}/gain_db`)),
        slope: typeof slope === "number" ? slope : null,
        on: this.get(`${p}/on`) !== false,
      };
    });
  }

  /**
   * @param {string} path
   * @param {unknown} value
   */
  fill(path, value) {
    this.values.set(path, value === undefined ? this.default(path) : value);
  }

  /** @param {string} path */
  get(path) {
    return this.values.has(path) ? this.values.get(path) : this.default(path);
  }

  /**
   * A change the server made (event or reply); older news than what the path has is
   * ignored, since a reply and the events it caused may arrive in either order.
   * @param {string} path
   * @param {unknown} value
   * @param {number} seq
   */
  apply(path, value, seq) {
    if (seq <= (this.seqs.get(path) ?? this.seq)) return;
    this.seqs.set(path, seq);
    this.values.set(path, value);
    for (const fn of this.listeners.get(path) ?? []) fn(value);
  }

  /**
   * Calls `fn` with the path's value whenever it changes. Returns the unsubscriber.
   * @param {string} path
   * @param {(value: unknown) => void} fn
   */
  watch(path, fn) {
    let set = this.listeners.get(path);
    if (!set) this.listeners.set(path, (set = new Set()));
    set.add(fn);
    const unwatch = () => set.delete(fn);
    this.collecting?.push(unwatch);
    return unwatch;
  }

  /**
   * Runs `build`, and returns what it built with one function that drops every watcher
   * it registered (a panel that is rebuilt).
   * @template T
   * @param {() => T} build
   * @returns {[T, () => void]}
   */
  collect(build) {
    /** @type {Array<() => void>} */
    const list = [];
    const outer = this.collecting;
    this.collecting = list;
    try {
      return [build(), () => list.forEach((u) => u())];
    } finally {
      this.collecting = outer;
    }
  }

  /** Drops every watcher (the console is rebuilt). */
  unwatchAll() {
    this.listeners.clear();
  }
}
