// The fader taper and dB formatting. The breakpoints are the server's
// (crates/control/src/namespace/taper.rs, FADER_POINTS); the browser tests compare
// this copy with the server's `…/norm` form, so the two cannot drift apart unseen.

/** @type {ReadonlyArray<readonly [number, number]>} (norm, dB) above the -inf end. */
export const FADER_POINTS = [
  [0.0, -90.0],
  [0.0625, -60.0],
  [0.25, -30.0],
  [0.5, -10.0],
  [0.75, 0.0],
  [1.0, 12.0],
];

/** The lowest finite level on a fader; below it the fader is off (-inf). */
export const FADER_FLOOR_DB = FADER_POINTS[0][1];

/**
 * A fader level (dB, -Infinity for off) as its 0..1 position.
 * @param {number} db
 * @returns {number}
 */
export function faderToNorm(db) {
  if (Number.isNaN(db) || db <= FADER_POINTS[0][1]) return 0;
  for (let i = 1; i < FADER_POINTS.length; i++) {
    const [n0, d0] = FADER_POINTS[i - 1];
    const [n1, d1] = FADER_POINTS[i];
    if (db <= d1) return n0 + ((db - d0) / (d1 - d0)) * (n1 - n0);
  }
  return 1;
}

/**
 * A 0..1 fader position as its level in dB (-Infinity at 0).
 * @param {number} norm
 * @returns {number}
 */
export function faderFromNorm(norm) {
  if (!(norm > 0)) return -Infinity;
  for (let i = 1; i < FADER_POINTS.length; i++) {
    const [n0, d0] = FADER_POINTS[i - 1];
    const [n1, d1] = FADER_POINTS[i];
    if (norm <= n1) return d0 + ((norm - n0) / (n1 - n0)) * (d1 - d0);
  }
  return FADER_POINTS[FADER_POINTS.length - 1][1];
}

/**
 * A level as the API spells it (a number, or "-inf") as a number.
 * @param {unknown} value
 * @returns {number}
 */
export function parseDb(value) {
  if (value === "-inf") return -Infinity;
  if (value === "inf") return Infinity;
  return typeof value === "number" ? value : NaN;
}

/**
 * A level as the API takes it.
 * @param {number} db
 * @returns {number | string}
 */
export function wireDb(db) {
  return db === -Infinity ? "-inf" : db;
}

/**
 * Rounds to a tenth of a dB (keeps -Infinity).
 * @param {number} db
 */
export function tenth(db) {
  return Number.isFinite(db) ? Math.round(db * 10) / 10 : db;
}

/**
 * "−6.0 dB", "+3.5 dB", "0.0 dB", or "off" for -inf (a typographic minus, as read aloud).
 * @param {number} db
 * @param {string} [off]
 */
export function formatDb(db, off = "off") {
  if (db === -Infinity || Number.isNaN(db)) return off;
  const r = tenth(db);
  const text = Math.abs(r).toFixed(1);
  if (r < 0) return `\u2212${text} dB`;
  if (r > 0) return `+${text} dB`;
  return `${text} dB`;
}
