// The EQ's response, from the Audio EQ Cookbook (R. Bristow-Johnson): the very
// formulas the engine designs its filters with (crates/dsp/src/biquad.rs), so the
// curve drawn is the filter heard.

/**
 * @typedef {{ kind: string, freq: number, q: number, gain_db: number, slope?: number | null, on: boolean }} Band
 * @typedef {{ b0: number, b1: number, b2: number, a1: number, a2: number }} Coefficients
 */

/** Kinds whose gain matters. */
export const GAIN_KINDS = new Set(["peak", "lowshelf", "highshelf"]);

/**
 * Normalised coefficients (a0 = 1) of one band at `rate` Hz.
 * @param {Band} band
 * @param {number} rate
 * @returns {Coefficients}
 */
export function design(band, rate) {
  const w0 = (2 * Math.PI * band.freq) / rate;
  const sin = Math.sin(w0);
  const cos = Math.cos(w0);
  const a = 10 ** (band.gain_db / 40);
  const shelf = band.kind === "lowshelf" || band.kind === "highshelf";
  const alpha =
    shelf && typeof band.slope === "number"
      ? (sin / 2) * Math.sqrt(Math.max(0, (a + 1 / a) * (1 / band.slope - 1) + 2))
      : sin / (2 * band.q);
  const sa = 2 * Math.sqrt(a) * alpha;
  /** @type {[number, number, number, number, number, number]} */
  let c;
  switch (band.kind) {
    case "lowpass":
      c = [(1 - cos) / 2, 1 - cos, (1 - cos) / 2, 1 + alpha, -2 * cos, 1 - alpha];
      break;
    case "highpass":
      c = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2, 1 + alpha, -2 * cos, 1 - alpha];
      break;
    case "bandpass":
      c = [alpha, 0, -alpha, 1 + alpha, -2 * cos, 1 - alpha];
      break;
    case "notch":
      c = [1, -2 * cos, 1, 1 + alpha, -2 * cos, 1 - alpha];
      break;
    case "allpass":
      c = [1 - alpha, -2 * cos, 1 + alpha, 1 + alpha, -2 * cos, 1 - alpha];
      break;
    case "lowshelf":
      c = [
        a * (a + 1 - (a - 1) * cos + sa),
        2 * a * (a - 1 - (a + 1) * cos),
        a * (a + 1 - (a - 1) * cos - sa),
        a + 1 + (a - 1) * cos + sa,
        -2 * (a - 1 + (a + 1) * cos),
        a + 1 + (a - 1) * cos - sa,
      ];
      break;
    case "highshelf":
      c = [
        a * (a + 1 + (a - 1) * cos + sa),
        -2 * a * (a - 1 + (a + 1) * cos),
        a * (a + 1 + (a - 1) * cos - sa),
        a + 1 - (a - 1) * cos + sa,
        2 * (a - 1 - (a + 1) * cos),
        a + 1 - (a - 1) * cos - sa,
      ];
      break;
    default: // peak
      c = [1 + alpha * a, -2 * cos, 1 - alpha * a, 1 + alpha / a, -2 * cos, 1 - alpha / a];
  }
  const [b0, b1, b2, a0, a1, a2] = c;
  return { b0: b0 / a0, b1: b1 / a0, b2: b2 / a0, a1: a1 / a0, a2: a2 / a0 };
}

/**
 * |H(e^{jω})| in dB at `freq`.
 * @param {Coefficients} k
 * @param {number} freq
 * @param {number} rate
 */
export function magnitudeDb(k, freq, rate) {
  const w = (2 * Math.PI * freq) / rate;
  const [c1, s1, c2, s2] = [Math.cos(w), Math.sin(w), Math.cos(2 * w), Math.sin(2 * w)];
  const nr = k.b0 + k.b1 * c1 + k.b2 * c2;
  const ni = -(k.b1 * s1 + k.b2 * s2);
  const dr = 1 + k.a1 * c1 + k.a2 * c2;
  const di = -(k.a1 * s1 + k.a2 * s2);
  return 10 * Math.log10((nr * nr + ni * ni) / (dr * dr + di * di));
}

/**
 * The whole EQ's response in dB at `freq`: the bands that are on, in series.
 * @param {Band[]} bands
 * @param {number} freq
 * @param {number} rate
 */
export function responseDb(bands, freq, rate) {
  let db = 0;
  for (const band of bands) if (band.on && band.freq < rate / 2) db += magnitudeDb(design(band, rate), freq, rate);
  return db;
}
