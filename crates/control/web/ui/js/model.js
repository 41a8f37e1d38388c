// The page's copy of the mixer: the session as the server last told it, and every
// parameter's value by canonical path. It changes only on the server's word (the
// state, `changed` events and the replies to our own sets), never on the page's guesses.

/**
 * @typedef {{ path: string, type: string, min?: number | string, max?: number, default: unknown, taper: string, values?: string[] }} Param
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
      for (const bus of buses) {
        const send = strip.sends?.[bus.name];
        if (!send) continue;
        for (const key of ["level_db", "on", "pre_fader"]) this.fill(`${base}/send/${bus.name}/${key}`, send[key]);
      }
    }
    for (const bus of buses) {
      for (const key of ["fader_db", "mute"]) this.fill(`bus/${bus.name}/${key}`, bus[key]);
    }
    for (const [path, fns] of this.listeners) for (const fn of fns) fn(this.values.get(path));
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
    return () => set.delete(fn);
  }

  /** Drops every watcher (the console is rebuilt). */
  unwatchAll() {
    this.listeners.clear();
  }
}
