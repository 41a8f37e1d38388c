// Lints the page's modules (browser) and the tests (Node).
import js from "@eslint/js";

const browser = {
  window: "readonly", document: "readonly", location: "readonly", localStorage: "readonly",
  fetch: "readonly", WebSocket: "readonly", requestAnimationFrame: "readonly", cancelAnimationFrame: "readonly", console: "readonly",
  setTimeout: "readonly", clearTimeout: "readonly", HTMLElement: "readonly", HTMLButtonElement: "readonly",
  HTMLInputElement: "readonly", HTMLSelectElement: "readonly", HTMLDialogElement: "readonly",
  HTMLCanvasElement: "readonly", SVGElement: "readonly", SVGSVGElement: "readonly", SVGCircleElement: "readonly", PointerEvent: "readonly", WheelEvent: "readonly", Node: "readonly",
  performance: "readonly", devicePixelRatio: "readonly", CanvasRenderingContext2D: "readonly",
};
const node = {
  process: "readonly", console: "readonly", setTimeout: "readonly", clearTimeout: "readonly",
  URL: "readonly", Buffer: "readonly", fetch: "readonly",
  // Inside page.evaluate callbacks, which run in the page.
  document: "readonly", window: "readonly", MutationObserver: "readonly", HTMLElement: "readonly",
  WebSocket: "readonly", performance: "readonly",
};

export default [
  { ignores: ["node_modules/**"] },
  js.configs.recommended,
  {
    files: ["ui/js/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: browser },
    rules: { "no-unused-vars": ["error", { argsIgnorePattern: "^_" }], eqeqeq: "error", "prefer-const": "error" },
  },
  {
    files: ["test/**/*.js", "test/**/*.mjs", "*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: node },
    rules: { eqeqeq: "error", "prefer-const": "error" },
  },
];
