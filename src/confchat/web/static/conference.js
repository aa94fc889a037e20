// What every confchat page shares about conferences: the page's words (t()),
// the lists of values the server declares (conference states, room modes,
// export formats), the rfc1459 case mapping (fold()), and the parsers of the
// moderation extension's lines (protocol.md, "Moderation extension").
//
// The parsers take a message from irc.js's parseLine() and return a plain
// object with named fields, or null for a line of another kind. Item ids
// are numbers everywhere (null where a line has none); counts and times
// are numbers; "*" (nobody, nothing) becomes null.

import { el, pageSettings, RequestError } from "./irc.js";

// ------------------------------------------------------------------ words

// A plural is an object of forms: an exact "=1" first, then the language's
// category for n (Intl.PluralRules: "one", "few", "many"...), then "other".
function pluralForm(forms, n, rules) {
  const count = Number(n);
  return forms[`=${count}`] ?? forms[rules.select(count)] ?? forms.other;
}

// t(key, vars): the page's text for `key`, its {name} placeholders filled
// from `vars` (a missing or null one is left empty), a plural chosen by
// vars.n; an unknown key is shown as itself. t.has(key) tells whether the
// words have it; t.list(key) is a list of texts.
export function translator(words, language = "en") {
  let rules;
  try {
    rules = new Intl.PluralRules(language);
  } catch (_) {
    rules = new Intl.PluralRules("en");
  }
  const t = (key, vars = {}) => {
    let text = words[key];
    if (text === undefined || text === null) return key;
    if (typeof text === "object" && !Array.isArray(text)) text = pluralForm(text, vars.n, rules);
    return String(text).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  };
  t.has = (key) => Object.prototype.hasOwnProperty.call(words, key);
  t.list = (key) => (Array.isArray(words[key]) ? [...words[key]] : []);
  return t;
}

const settings = pageSettings();
export const LANG = settings.language || "en";
export const LOCALE = settings.locale || LANG;
export const t = translator(settings.words || {}, LANG);

// The closed lists of values, from the server (confchat.vocab), in the order
// they are shown.
export const VOCAB = {
  conference_states: [],
  room_modes: [],
  export_formats: [],
  ...(settings.vocab || {}),
};

// ------------------------------------------------------------------ names and ids

const FOLDED = { "[": "{", "]": "}", "\\": "|", "~": "^" };

// rfc1459 case mapping (the server's CASEMAPPING): names compare folded.
export function fold(name) {
  return String(name ?? "").toLowerCase().replace(/[[\]\\~]/g, (c) => FOLDED[c]);
}

export function sameName(a, b) {
  return fold(a) === fold(b);
}

// An item id as a number, or null when `text` is not one.
export function itemId(text) {
  const value = String(text ?? "");
  return /^[0-9]{1,15}$/.test(value) ? Number(value) : null;
}

const count = (text) => parseInt(text, 10) || 0;
const nobody = (text) => (text === undefined || text === "" || text === "*" ? null : text);

// ------------------------------------------------------------------ lines

// QUEUE <channel> ITEM <id> <state> <position> <author> <submitted-unix>
//   <claimed-by|*> <decided-by|*> <flags|*> :<text>
export function parseQueueItem(msg) {
  const p = msg.params;
  if (msg.command !== "QUEUE" || p[1] !== "ITEM") return null;
  const id = itemId(p[2]);
  if (id === null) return null;
  const flags = nobody(p[9]) ? p[9].split(",").filter(Boolean) : [];
  return {
    channel: p[0],
    id,
    state: p[3] || "",
    position: count(p[4]),
    author: p[5] || "",
    submitted: count(p[6]),
    claimed: nobody(p[7]),
    decided: nobody(p[8]),
    flags,
    redacted: flags.includes("redacted"),
    text: p[10] ?? "",
  };
}

// What the automatic policies found about an item, from the tags of its
// QUEUE ITEM line: the summed score (a number, null without the tag) and
// one "<policy>: <why>" per policy that held or dropped it.
export function parseFindings(msg) {
  const tags = msg.tags || {};
  const raw = tags["confchat/score"];
  const score = raw === undefined || raw === "" || Number.isNaN(Number(raw)) ? null : Number(raw);
  const reasons = String(tags["confchat/reasons"] ?? "").split(" | ").map((r) => r.trim()).filter(Boolean);
  return { score, reasons };
}

// CONF replies and events, by subcommand:
//   CONF * LIST <channel> <state> <mode> :<title>
//   CONF <channel> INFO <key> :<value>       (now_answering: an item id or null)
//   CONF <channel> QUESTION <id> <votes> open|answered <msgid> <author> :<text>
//   CONF <channel> VOTES <id> <votes>
//   CONF <channel> RESTRICTION ban|mute <mask> <set-by> <expires-unix or 0> :<reason>
//   CONF <channel> SHIELD on|off <by> :<reason>   (by: an account, or "auto")
//   CONF <channel> MEMBER <nick> <user>@<host> <account or *> <visitor identity or *> <visitors on that address>
//   CONF <channel> END :<text>
export function parseConf(msg) {
  const [channel = "", sub = "", ...rest] = msg.params;
  if (msg.command !== "CONF") return null;
  switch (sub) {
    case "LIST": {
      const [name = "", state = "", mode = "", title = ""] = rest;
      return { type: "list", channel: name, state, mode, title };
    }
    case "INFO": {
      const [key = "", value = ""] = rest;
      return { type: "info", channel, key, value: key === "now_answering" ? itemId(value) : value };
    }
    case "QUESTION": {
      const [id, votes, status = "", msgid = "", author = "", text = ""] = rest;
      return { type: "question", channel, id: itemId(id), votes: count(votes), status, msgid, author, text };
    }
    case "VOTES":
      return { type: "votes", channel, id: itemId(rest[0]), votes: count(rest[1]) };
    case "RESTRICTION": {
      const [kind = "", mask = "", setBy = "", expires, reason = ""] = rest;
      return { type: "restriction", channel, kind, mask, setBy, expires: count(expires), reason };
    }
    case "SHIELD": {
      const [state = "", by, reason = ""] = rest;
      return { type: "shield", channel, on: state.toLowerCase() === "on", by: nobody(by), reason };
    }
    case "MEMBER": {
      const [nick = "", userhost = "", account, visitor, sharing] = rest;
      const at = userhost.lastIndexOf("@");
      return { type: "member", channel, nick, user: at < 0 ? "" : userhost.slice(0, at),
        host: at < 0 ? userhost : userhost.slice(at + 1), account: nobody(account), visitor: nobody(visitor),
        sharing: sharing === undefined ? null : count(sharing) };
    }
    case "END":
      return { type: "end", channel, text: rest[rest.length - 1] ?? "" };
    default:
      return null;
  }
}

// A paged listing (QUEUE LIST, CONF AUDIT, QUESTIONS, AUDIENCE) sends at
// most a page, then `<COMMAND> <channel> MORE <next> :<n> more` when more
// follow: where the next page starts among `replies`, or null (the listing
// ended).
export function nextPage(replies, command) {
  for (const msg of replies) {
    if (msg.command === command && msg.params[1] === "MORE") return itemId(msg.params[2]) || null;
  }
  return null;
}

// The INFO lines among `replies` as one object (key -> value).
export function conferenceInfo(replies) {
  const info = {};
  for (const msg of replies) {
    const line = parseConf(msg);
    if (line && line.type === "info") info[line.key] = line.value;
  }
  return info;
}

// PREPARED <channel> ITEM <name> <author> :<text>, PREPARED <channel> END
export function parsePrepared(msg) {
  const [channel = "", sub = "", name = "", author = "", text = ""] = msg.params;
  if (msg.command !== "PREPARED") return null;
  if (sub === "ITEM") return { type: "item", channel, name, author, text };
  if (sub === "END") return { type: "end", channel };
  return null;
}

// NOTE|FAIL|WARN <command> <code> [<context>...] :<description>. The context
// usually starts with the channel and, for an item, its id; the notes the
// pages act on get their other fields named.
export function parseReply(msg) {
  if (!["NOTE", "FAIL", "WARN"].includes(msg.command)) return null;
  const [command = "", code = "", ...rest] = msg.params;
  const context = rest.slice(0, -1);
  const reply = {
    kind: msg.command,
    command,
    code,
    context,
    description: rest[rest.length - 1] ?? "",
    channel: context[0] ?? "",
    id: itemId(context[1]),
  };
  if (command === "JOIN" && code === "CONFERENCE") {
    // NOTE JOIN CONFERENCE <channel> <state> <mode> <role> :<description>
    Object.assign(reply, { id: null, state: context[1] || "", mode: context[2] || "", role: context[3] || "" });
  } else if (command === "VOTE" && code === "COUNTED") {
    // NOTE VOTE COUNTED <channel> <id> <votes> :<description>
    reply.votes = count(context[2]);
  } else if (command === "NAMES" && code === "AUDIENCE") {
    // NOTE NAMES AUDIENCE <channel> <count> :<description>
    Object.assign(reply, { id: null, audience: count(context[1]) });
  }
  return reply;
}

// A message's place among the questions: the item it belongs to (a
// published question or an answer to it) and the msgid it answers.
export function messageItem(msg) {
  return { item: itemId(msg.tags["confchat/item"]), replyTo: msg.tags["+draft/reply"] || null };
}

// What a server NOTICE to a conference announces, from its tags; a field is
// undefined when the notice does not change it.
export function parseBroadcast(msg) {
  const tags = msg.tags;
  const has = (key) => tags[key] !== undefined;
  return {
    state: tags["confchat/state"],
    mode: tags["confchat/mode"],
    slowMode: has("confchat/slow_mode") ? count(tags["confchat/slow_mode"]) : undefined,
    answering: has("confchat/answering") ? itemId(tags["confchat/answering"]) : undefined,
    answered: has("confchat/answered") ? itemId(tags["confchat/answered"]) : undefined,
  };
}

// ------------------------------------------------------------------ unanswered requests

// A request the server did not answer (irc.js RequestError): what to say,
// from the page's words for `what` ("action", "answer", "question", "load"):
// <what>_unanswered after a timeout, <what>_lost after a lost connection.
export function unansweredText(error, what) {
  const key = error && error.reason === "timeout" ? `${what}_unanswered` : `${what}_lost`;
  return t(t.has(key) ? key : `${what}_unanswered`);
}

// A visible error for a request that got no answer, with a Retry button:
// the text is announced (role="alert"), the button runs `onRetry` and the
// notice goes.
export function retryNotice(text, onRetry, { cls = "" } = {}) {
  const retry = el("button", { type: "button", class: "small secondary retry" }, t("retry"));
  const notice = el("div", { class: `request-error${cls ? ` ${cls}` : ""}`, role: "alert" },
    el("span", { class: "request-error-text" }, text), " ", retry);
  retry.addEventListener("click", () => {
    notice.remove();
    onRetry();
  });
  return notice;
}

// ------------------------------------------------------------------ history across reconnections

export const HISTORY_CAPS = ["draft/chathistory", "draft/event-playback"];

// Keep `irc`'s view of `channel` whole across dropped connections (IRCv3
// draft/chathistory, protocol.md "History"): the client asks for the
// capability, so the server sends no backlog on JOIN; on each JOIN of the
// channel it asks for what it lacks instead: the latest `first` messages
// the first time, and after a reconnection everything after the last
// message it saw, page after page by msgid, so that nothing is missed and
// nothing comes twice. With draft/event-playback the deletions made
// meanwhile come too (REDACT lines). The lines arrive as any others
// ("message" events inside a chathistory batch). Returns the state:
// { last: msgid of the last message seen, fetching }.
export function followHistory(irc, channel, { first = 50 } = {}) {
  for (const cap of HISTORY_CAPS) if (!irc.wantedCaps.includes(cap)) irc.wantedCaps.push(cap);
  const state = { last: null, fetching: false, limit: 50 };
  const published = (msg) =>
    (msg.command === "PRIVMSG" || msg.command === "NOTICE") && sameName(msg.params[0], channel)
    && msg.tags.msgid && msg.source && msg.source.includes("!");
  irc.on("message", (msg) => {
    if (msg.command === "005") {
      for (const token of msg.params.slice(1, -1)) {
        const [key, value] = token.split("=");
        if (key === "CHATHISTORY" && Number(value) > 0) state.limit = Math.min(Number(value), 100);
      }
    } else if (published(msg) && !state.fetching) {
      state.last = msg.tags.msgid; // a live line, in the server's order
    } else if (msg.command === "JOIN" && sameName(msg.params[0], channel) && sameName(msg.nick, irc.nick)) {
      catchUp();
    }
  });

  // One CHATHISTORY request: the lines of its batch (messages and, with
  // event-playback, deletions: each has a msgid the server can page from),
  // its FAIL, or null when it got no answer.
  async function ask(params) {
    let replies;
    try {
      replies = await irc.request("CHATHISTORY", params);
    } catch (error) {
      if (error instanceof RequestError) return null; // the next JOIN tries again
      throw error;
    }
    if (replies.some((msg) => msg.command === "FAIL")) return replies.find((msg) => msg.command === "FAIL");
    return replies.filter((msg) => msg.command !== "BATCH" && msg.tags.msgid);
  }

  async function catchUp() {
    if (!irc.caps.has("draft/chathistory") || state.fetching) return;
    state.fetching = true;
    try {
      let cursor = state.last;
      for (;;) {
        if (!cursor) {
          const lines = await ask(["LATEST", channel, "*", Math.min(first, state.limit)]);
          if (Array.isArray(lines) && lines.length) state.last = lines[lines.length - 1].tags.msgid;
          return;
        }
        const lines = await ask(["AFTER", channel, `msgid=${cursor}`, state.limit]);
        if (lines === null) return;
        if (!Array.isArray(lines)) {
          // The server no longer knows our last message: take the latest.
          if (lines.params[1] === "MESSAGE_ERROR") cursor = null;
          else return;
          continue;
        }
        if (lines.length) cursor = lines[lines.length - 1].tags.msgid;
        state.last = cursor;
        if (lines.length < state.limit) return; // caught up
      }
    } finally {
      state.fetching = false;
    }
  }
  return state;
}
