// The API client: HTTP with the token, and one WebSocket with request/reply by id,
// reconnected with backoff when it drops.

const TOKEN_KEY = "troubadour.token";

/** @typedef {{ event: string, [key: string]: unknown }} ApiEvent */
/** @typedef {{ id?: unknown, ok: boolean, error?: { code: string, message: string }, [key: string]: unknown }} ApiReply */

export class ApiError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {number} [status]
   */
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export class Api {
  /**
   * @param {() => Promise<string>} askToken asks the person for the token (after a 401)
   */
  constructor(askToken) {
    this.askToken = askToken;
    /** @type {string | null} */
    this.token = localStorage.getItem(TOKEN_KEY);
    /** @type {WebSocket | null} */
    this.socket = null;
    this.nextId = 1;
    /** @type {Map<number, { resolve: (r: ApiReply) => void, reject: (e: Error) => void }>} */
    this.waiting = new Map();
    /** @type {(event: ApiEvent) => void} */
    this.onEvent = () => {};
  }

  /** @returns {Record<string, string>} */
  headers() {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  /**
   * One HTTP request; on 401 the person is asked for the token once and it is retried.
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @returns {Promise<any>}
   */
  async http(method, path, body) {
    for (let attempt = 0; ; attempt++) {
      /** @type {RequestInit} */
      const init = { method, headers: { ...this.headers(), "Content-Type": "application/json" }, cache: "no-store" };
      if (body !== undefined) init.body = JSON.stringify(body);
      const response = await fetch(path, init);
      if (response.status === 401 && attempt < 3) {
        this.setToken(await this.askToken());
        continue;
      }
      const json = await response.json().catch(() => ({}));
      if (!response.ok) {
        const e = json.error ?? { code: "http", message: response.statusText };
        throw new ApiError(e.code, e.message, response.status);
      }
      return json;
    }
  }

  /** @param {string} token */
  setToken(token) {
    this.token = token.trim();
    localStorage.setItem(TOKEN_KEY, this.token);
  }

  /**
   * Opens the WebSocket; resolves once it is open, rejects if it fails first.
   * `onClose` is called once when an open socket closes.
   * @param {() => void} onClose
   * @returns {Promise<void>}
   */
  open(onClose) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = this.token ? `?token=${encodeURIComponent(this.token)}` : "";
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/ws${query}`);
    return new Promise((resolve, reject) => {
      let opened = false;
      socket.onopen = () => {
        opened = true;
        this.socket = socket;
        resolve();
      };
      socket.onmessage = (m) => this.receive(String(m.data));
      socket.onclose = () => {
        if (this.socket === socket) this.socket = null;
        for (const w of this.waiting.values()) w.reject(new ApiError("closed", "the connection closed"));
        this.waiting.clear();
        if (opened) onClose();
        else reject(new ApiError("closed", "the connection failed"));
      };
    });
  }

  /** @param {string} text */
  receive(text) {
    /** @type {any} */
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof message.event === "string") {
      this.onEvent(message);
      return;
    }
    const w = this.waiting.get(message.id);
    if (!w) return;
    this.waiting.delete(message.id);
    if (message.ok) w.resolve(message);
    else w.reject(new ApiError(message.error?.code ?? "error", message.error?.message ?? "refused"));
  }

  /**
   * One request over the WebSocket.
   * @param {string} op
   * @param {Record<string, unknown>} [fields]
   * @returns {Promise<ApiReply>}
   */
  request(op, fields = {}) {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new ApiError("closed", "not connected"));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, op, ...fields }));
    });
  }

  /**
   * Sets a parameter.
   * @param {string} path
   * @param {unknown} value
   */
  set(path, value) {
    return this.request("set", { path, value });
  }
}

/**
 * Sends the latest value of one parameter, one request at a time: while a set is on
 * its way, newer values replace each other and only the last is sent next. `busy`
 * tells the control that its own echoes must not move it.
 */
export class Sender {
  /**
   * @param {Api} api
   * @param {string} path
   * @param {(value: unknown, seq: number) => void} onReply the value the server kept
   * @param {() => void} onIdle nothing more to send
   */
  constructor(api, path, onReply, onIdle) {
    this.api = api;
    this.path = path;
    this.onReply = onReply;
    this.onIdle = onIdle;
    this.inFlight = false;
    /** @type {{ value: unknown } | null} */
    this.next = null;
  }

  get busy() {
    return this.inFlight || this.next !== null;
  }

  /** @param {unknown} value */
  send(value) {
    this.next = { value };
    if (!this.inFlight) this.pump();
  }

  async pump() {
    while (this.next) {
      const { value } = this.next;
      this.next = null;
      this.inFlight = true;
      try {
        const reply = await this.api.set(this.path, value);
        this.onReply(reply.value, Number(reply.seq));
      } catch (e) {
        console.warn(`set ${this.path}:`, e);
      } finally {
        this.inFlight = false;
      }
    }
    this.onIdle();
  }
}
