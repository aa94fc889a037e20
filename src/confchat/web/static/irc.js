// IRC over WebSocket for the confchat pages: one IRC line per message
// (IRCv3 WebSocket spec, subprotocol text.ircv3.net), IRCv3 message tags,
// capability negotiation, SASL PLAIN, reconnection with back-off.
//
//   const irc = new IrcClient({ nick, account, password, caps });
//   irc.on("message", (msg) => ...);   // every parsed line
//   irc.on("registered" | "state" | "close", ...);
//   irc.connect(); irc.send("JOIN", ["#townhall"]);
//
// A message is { tags: {k: v}, source: "nick!user@host" | null, nick,
// command: "PRIVMSG", params: ["#chan", "text"] }.

const TAG_UNESCAPES = { ":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n" };

export function unescapeTag(value) {
  return value.replace(/\\(.?)/g, (_, c) => (c in TAG_UNESCAPES ? TAG_UNESCAPES[c] : c));
}

export function escapeTag(value) {
  return value.replace(/[\\; \r\n]/g, (c) => ({ "\\": "\\\\", ";": "\\:", " ": "\\s", "\r": "\\r", "\n": "\\n" })[c]);
}

export function parseLine(line) {
  let rest = line.replace(/[\r\n]+$/, "");
  const msg = { tags: {}, source: null, nick: null, command: "", params: [] };
  if (rest.startsWith("@")) {
    const end = rest.indexOf(" ");
    for (const item of rest.slice(1, end).split(";")) {
      if (!item) continue;
      const eq = item.indexOf("=");
      if (eq < 0) msg.tags[item] = "";
      else msg.tags[item.slice(0, eq)] = unescapeTag(item.slice(eq + 1));
    }
    rest = rest.slice(end + 1).replace(/^ +/, "");
  }
  if (rest.startsWith(":")) {
    const end = rest.indexOf(" ");
    msg.source = rest.slice(1, end);
    msg.nick = msg.source.split("!")[0];
    rest = rest.slice(end + 1).replace(/^ +/, "");
  }
  while (rest.length) {
    if (rest.startsWith(":")) {
      msg.params.push(rest.slice(1));
      break;
    }
    const end = rest.indexOf(" ");
    if (end < 0) {
      msg.params.push(rest);
      break;
    }
    if (!msg.command) msg.command = rest.slice(0, end).toUpperCase();
    else msg.params.push(rest.slice(0, end));
    rest = rest.slice(end + 1).replace(/^ +/, "");
  }
  if (!msg.command && msg.params.length) msg.command = msg.params.shift().toUpperCase();
  return msg;
}

export function formatLine(command, params = [], tags = {}) {
  const parts = [];
  const tagText = Object.entries(tags)
    .map(([k, v]) => (v === "" || v === true ? k : `${k}=${escapeTag(String(v))}`))
    .join(";");
  if (tagText) parts.push("@" + tagText);
  parts.push(command);
  params.forEach((p, i) => {
    const text = String(p).replace(/[\r\n\0]/g, " ");
    const last = i === params.length - 1;
    parts.push(last && (text === "" || text.includes(" ") || text.startsWith(":")) ? ":" + text : text);
  });
  return parts.join(" ");
}

function base64Utf8(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

// How long a request waits for the server's answer.
export const REQUEST_TIMEOUT_MS = 10000;

// A request that got no answer: `reason` is "timeout" (none in time),
// "closed" (the connection closed first) or "offline" (not sent: not
// connected); `replies` holds what arrived before.
export class RequestError extends Error {
  constructor(reason, command, replies = []) {
    super(`${command}: no answer from the server (${reason})`);
    this.name = "RequestError";
    this.reason = reason;
    this.command = command;
    this.replies = replies;
  }
}

export const DEFAULT_CAPS = [
  "message-tags", "server-time", "echo-message", "standard-replies", "batch",
  "draft/message-redaction", "multi-prefix", "labeled-response",
  "confchat/audience", // the visitors' vote counts and audience size (protocol.md)
];

export class IrcClient {
  constructor({ url = null, nick, account = null, password = null, caps = DEFAULT_CAPS, realname = null, autoRename = null,
    visitor = null }) {
    this.url = url || IrcClient.defaultUrl();
    this.nick = nick;
    // A visitor's random token, kept by the page between visits: sent with
    // VISITOR before registration, it keys the visitor's vote and the bans
    // aimed at them (protocol.md, "Visitor identity").
    this.visitor = visitor;
    this.wantedNick = nick;
    this.account = account;
    this.password = password;
    this.wantedCaps = [...caps, ...(account ? ["sasl"] : [])];
    this.caps = new Set();
    this.realname = realname || nick;
    // Rename on a taken nick (default: visitors only; staff pages choose).
    this.autoRename = autoRename ?? !account;
    this.handlers = {};
    this.ws = null;
    this.registered = false;
    this.closedByUser = false;
    this.retries = 0;
    this.state = "idle"; // idle | connecting | registered | reconnecting | failed | closed
    this.label = 0;
    this.pendingLabels = new Map(); // label -> request waiting for its replies
    this.requestTimeout = REQUEST_TIMEOUT_MS;
  }

  static defaultUrl(path = "/ws") {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}${path}`;
  }

  on(event, handler) {
    (this.handlers[event] ||= []).push(handler);
    return this;
  }

  emit(event, ...args) {
    for (const handler of this.handlers[event] || []) {
      try {
        handler(...args);
      } catch (error) {
        console.error(error);
      }
    }
  }

  setState(state, detail = null) {
    this.state = state;
    this.emit("state", state, detail);
  }

  connect() {
    this.closedByUser = false;
    this.setState(this.retries ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url, ["text.ircv3.net"]);
    this.ws = ws;
    ws.onopen = () => {
      this.caps = new Set();
      this.registered = false;
      this.raw("CAP LS 302");
      if (this.visitor) this.send("VISITOR", [this.visitor]);
      this.send("NICK", [this.nick]);
      this.send("USER", [this.nick.toLowerCase().replace(/[^a-z0-9]/g, "") || "web", "0", "*", this.realname]);
    };
    ws.onmessage = (event) => this.receive(typeof event.data === "string" ? event.data : "");
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const wasRegistered = this.registered;
      this.registered = false;
      this.failPending("closed");
      this.emit("close", { code: event.code, wasRegistered });
      if (this.closedByUser || this.state === "failed") {
        this.setState(this.state === "failed" ? "failed" : "closed");
        return;
      }
      // Back-off: 1 s, 2 s, 4 s ... up to 30 s, with jitter.
      const delay = Math.min(30000, 1000 * 2 ** this.retries) * (0.75 + Math.random() / 2);
      this.retries += 1;
      this.setState("reconnecting", Math.round(delay / 1000));
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
  }

  close() {
    this.closedByUser = true;
    clearTimeout(this.retryTimer);
    if (this.ws) {
      try {
        this.raw("QUIT :Leaving");
      } catch (_) {
        /* already closing */
      }
      this.ws.close();
    }
    this.failPending("closed");
    this.setState("closed");
  }

  raw(line) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(line);
  }

  send(command, params = [], tags = {}) {
    this.raw(formatLine(command, params, tags));
  }

  // Send a command; resolve with every reply to it. With labeled-response
  // the replies are the lines labelled for it (none: ACK); without it, a
  // PING follows the command and the replies are every line received up to
  // its PONG (the server answers in order). A request that gets no answer
  // in time rejects with a RequestError ("timeout"), as does one sent while
  // not connected ("offline") or cut off by the connection closing
  // ("closed"): a request never reports success without an answer.
  request(command, params = [], { timeout = this.requestTimeout } = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new RequestError("offline", command));
    }
    const labeled = this.caps.has("labeled-response");
    const label = `${labeled ? "l" : "p"}${++this.label}`;
    return new Promise((resolve, reject) => {
      const entry = {
        command,
        labeled,
        replies: [],
        batch: null,
        inner: new Set(), // batches opened inside the labelled one
        finish: (error = null) => {
          clearTimeout(entry.timer);
          this.pendingLabels.delete(label);
          if (error) reject(error);
          else resolve(entry.replies);
        },
      };
      entry.timer = setTimeout(() => entry.finish(new RequestError("timeout", command, entry.replies)), timeout);
      this.pendingLabels.set(label, entry);
      if (labeled) {
        this.send(command, params, { label });
      } else {
        this.send(command, params);
        this.send("PING", [label]);
      }
    });
  }

  // Every request still waiting fails (the connection closed).
  failPending(reason) {
    for (const entry of [...this.pendingLabels.values()]) {
      entry.finish(new RequestError(reason, entry.command, entry.replies));
    }
  }

  receive(line) {
    if (!line) return;
    const msg = parseLine(line);
    if (this.trackLabel(msg)) return;
    switch (msg.command) {
      case "PING":
        this.send("PONG", msg.params);
        return;
      case "CAP":
        this.onCap(msg);
        break;
      case "AUTHENTICATE":
        if (msg.params[0] === "+") {
          this.send("AUTHENTICATE", [base64Utf8(`${this.account}\0${this.account}\0${this.password}`)]);
        }
        break;
      case "903": // SASL success
        this.raw("CAP END");
        break;
      case "904": // SASL failure
      case "905":
      case "906":
      case "907":
        // A failed login never goes on as a visitor, and is not retried
        // with the same password: the client stops here.
        this.emit("loginfailed", msg);
        this.state = "failed";
        if (this.ws) this.ws.close();
        break;
      case "001":
        this.registered = true;
        this.retries = 0;
        this.nick = msg.params[0];
        this.setState("registered");
        this.emit("registered", msg);
        break;
      case "433": // nickname in use
      case "432": // erroneous nickname
        if (!this.registered) {
          this.emit("nickrefused", msg);
          // Taken nick: take another.
          if (msg.command === "433" && this.autoRename) {
            this.nick = `${this.wantedNick.slice(0, 24)}_${Math.floor(Math.random() * 1000)}`;
            this.send("NICK", [this.nick]);
          } else {
            this.state = "failed";
            this.ws.close();
          }
        }
        break;
      case "NICK":
        if (msg.nick === this.nick) this.nick = msg.params[0];
        break;
      case "ERROR":
        this.emit("serverError", msg.params[0] || "");
        break;
      default:
        break;
    }
    this.emit("message", msg);
  }

  trackLabel(msg) {
    const label = msg.tags.label;
    const batch = msg.tags.batch;
    if (label && this.pendingLabels.has(label)) {
      const entry = this.pendingLabels.get(label);
      if (msg.command === "BATCH" && msg.params[0].startsWith("+")) {
        entry.batch = msg.params[0].slice(1);
        return true;
      }
      if (msg.command !== "ACK") entry.replies.push(msg);
      entry.finish();
      if (msg.command !== "ACK") this.emit("message", msg);
      return true;
    }
    for (const [key, entry] of this.pendingLabels) {
      if (!entry.labeled) {
        // Without labels: every line counts, up to our PONG.
        if (msg.command === "PONG" && msg.params[msg.params.length - 1] === key) {
          entry.finish();
          return true;
        }
        entry.replies.push(msg);
        continue;
      }
      if (entry.batch && msg.command === "BATCH" && msg.params[0] === "-" + entry.batch) {
        entry.finish();
        return true;
      }
      if (entry.batch && (batch === entry.batch || entry.inner.has(batch))) {
        // A batch of its own inside the labelled one (a chathistory batch):
        // its lines are replies too.
        if (batch === entry.batch && msg.command === "BATCH" && msg.params[0].startsWith("+")) {
          entry.inner.add(msg.params[0].slice(1));
        }
        entry.replies.push(msg);
        this.emit("message", msg);
        return true;
      }
    }
    return false;
  }

  onCap(msg) {
    const sub = (msg.params[1] || "").toUpperCase();
    if (sub === "LS") {
      const more = msg.params[2] === "*";
      const list = msg.params[more ? 3 : 2] || "";
      this.offered = (this.offered || []).concat(list.split(" ").filter(Boolean).map((c) => c.split("=")[0]));
      if (more) return;
      const wanted = this.wantedCaps.filter((c) => this.offered.includes(c));
      this.offered = [];
      if (wanted.length) this.send("CAP", ["REQ", wanted.join(" ")]);
      else this.raw("CAP END");
    } else if (sub === "ACK") {
      for (const cap of (msg.params[2] || "").split(" ").filter(Boolean)) this.caps.add(cap);
      if (this.caps.has("sasl") && this.account && !this.registered) this.raw("AUTHENTICATE PLAIN");
      else if (!this.registered) this.raw("CAP END");
    } else if (sub === "NAK") {
      if (!this.registered) this.raw("CAP END");
    }
  }
}

// Time of a message: its server-time tag, else now.
export function messageTime(msg) {
  const stamp = msg.tags.time ? new Date(msg.tags.time) : new Date();
  return Number.isNaN(stamp.getTime()) ? new Date() : stamp;
}

// Remove IRC formatting codes and other controls before display.
export function plainText(text) {
  return String(text).replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
}

// Read the page's settings block (language, words, conference...).
export function pageSettings() {
  const node = document.getElementById("confchat-settings");
  return node ? JSON.parse(node.textContent) : {};
}

// A tiny element builder that only ever sets text (never HTML).
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
