// The visitor page: the city's link opens it, the visitor picks a nickname
// and the conference's chat opens. Published questions with their answers
// threaded under them, the visitor's own questions while they wait for the
// moderators, votes, the conference's state and schedule.
//
// Every piece of text from the server or the user is inserted as text (el(),
// textContent), never as HTML.

import { IrcClient, RequestError, el, messageTime, pageSettings, plainText } from "./irc.js";
import {
  LANG, LOCALE, fold, messageItem, parseBroadcast, parseConf, parseReply, retryNotice, t, unansweredText,
} from "./conference.js";
import { followHistory } from "./conference.js";

const settings = pageSettings();
const CONFERENCE = settings.conference || "";
const MAX_CHARS = 400; // what the server relays comfortably in one line
const NICK_MAX = 30;
const STORAGE_KEY = "confchat.nick";
// The visitor's random identity token, kept between visits (VISITOR,
// protocol.md): one vote per visitor across reloads, and a ban aimed at
// this visitor does not fall on others behind the same address.
const VISITOR_KEY = "confchat.visitor";
const INFO_REFRESH_MS = 60000; // audience count, state; doubles as a liveness check
const LIVENESS_TIMEOUT_MS = 25000;

// ------------------------------------------------------------------ helpers

// One clock for the whole page, the page language's: the browser's own
// region when it speaks that language (en-US: 12 h; en-GB: 24 h), else the
// language's locale from the server (fr-FR, de-DE: 24 h).
function clockLocale() {
  const mine = (navigator.languages || [navigator.language || ""]).find((tag) => String(tag).split("-")[0].toLowerCase() === LANG);
  try {
    return Intl.DateTimeFormat.supportedLocalesOf([mine || LOCALE])[0] || LOCALE;
  } catch (_) {
    return LOCALE;
  }
}
const CLOCK_LOCALE = clockLocale();
const timeFormat = new Intl.DateTimeFormat(CLOCK_LOCALE, { hour: "numeric", minute: "2-digit" });
const dayTimeFormat = new Intl.DateTimeFormat(CLOCK_LOCALE, { dateStyle: "medium", timeStyle: "short" });
const dateFormat = new Intl.DateTimeFormat(CLOCK_LOCALE, { dateStyle: "full", timeStyle: "short" });

// A message's time: the hour today, with the date on other days (history).
function shortTime(date) {
  return date.toDateString() === new Date().toDateString() ? timeFormat.format(date) : dayTimeFormat.format(date);
}

function humanDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
}

function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

// The words for a FAIL code, else the server's description.
function failText(code, description) {
  return t.has(`fail_${code}`) ? t(`fail_${code}`) : description;
}

// A broadcast in the page's words, else the server's text.
function systemText(key, msg) {
  return t.has(key) ? t(key) : plainText(msg.params[1] || "");
}

// The description of a standard reply after a fixed English prefix: the
// server's own reason text (a moderator's words), or "".
function reasonAfter(description, prefix) {
  const text = String(description || "");
  const at = text.indexOf(prefix);
  if (at < 0) return "";
  return text.slice(at + prefix.length).replace(/^:\s*/, "").trim();
}

function storedNick() {
  try {
    return localStorage.getItem(STORAGE_KEY) || "";
  } catch (_) {
    return "";
  }
}

function storeNick(nick) {
  try {
    localStorage.setItem(STORAGE_KEY, nick);
  } catch (_) {
    /* storage may be off (private mode, third-party frame) */
  }
}

// 128 random bits, base64url (22 characters): made once, then kept. Where
// storage is off it lasts as long as the page.
let pageToken = null;
function visitorToken() {
  try {
    const kept = localStorage.getItem(VISITOR_KEY);
    if (kept && /^[A-Za-z0-9_-]{16,64}$/.test(kept)) return kept;
  } catch (_) {
    /* storage may be off */
  }
  if (!pageToken) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    pageToken = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  try {
    localStorage.setItem(VISITOR_KEY, pageToken);
  } catch (_) {
    /* storage may be off (private mode, third-party frame) */
  }
  return pageToken;
}

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

// ------------------------------------------------------------------ the page

const main = document.getElementById("main");

const ui = {};
let irc = null; // the current IrcClient
let chat = null; // the state of the current chat session

function buildJoinForm() {
  const input = el("input", {
    id: "nick", name: "nick", type: "text", autocomplete: "nickname", autocapitalize: "off", spellcheck: "false",
    maxlength: String(NICK_MAX + 10), required: true, "aria-describedby": "nick-hint nick-error",
    value: storedNick(),
  });
  const error = el("p", { id: "nick-error", class: "error field-error", "aria-live": "assertive" });
  const status = el("p", { class: "status", role: "status" });
  const button = el("button", { type: "submit" }, t("join"));
  const form = el("form", { class: "join-form", novalidate: true, "aria-labelledby": "join-title" },
    el("div", { class: "field" },
      el("label", { for: "nick" }, t("nick_label")),
      el("p", { id: "nick-hint", class: "hint" }, t("nick_hint")),
      input,
      error),
    button,
    status);
  const section = el("section", { id: "join", class: "card join", "aria-labelledby": "join-title" },
    el("h2", { id: "join-title" }, t("join_title")),
    el("p", {}, t("join_intro")),
    form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitNick();
  });
  Object.assign(ui, { join: section, nickInput: input, nickError: error, joinStatus: status, joinButton: button });
  return section;
}

function showNickError(text) {
  ui.nickError.textContent = text;
  ui.nickInput.setAttribute("aria-invalid", "true");
  ui.joinButton.disabled = false;
  ui.joinStatus.textContent = "";
  ui.nickInput.focus();
}

function submitNick() {
  const nick = ui.nickInput.value.trim();
  ui.nickError.textContent = "";
  ui.nickInput.removeAttribute("aria-invalid");
  if (!nick) return showNickError(t("nick_empty"));
  if (/\s/.test(nick)) return showNickError(t("nick_spaces"));
  if ([...nick].length > NICK_MAX) return showNickError(t("nick_too_long"));
  ui.joinButton.disabled = true;
  ui.joinStatus.textContent = t("connecting");
  connect(nick);
}

function buildChat() {
  const title = el("h2", { id: "conf-title", class: "conf-title" }, CONFERENCE);
  const description = el("p", { class: "conf-description", hidden: true });
  const stateBadge = el("span", { class: "badge state", hidden: true });
  const modeText = el("p", { class: "conf-mode", hidden: true });
  const schedule = el("dl", { class: "schedule", hidden: true });
  const slow = el("p", { class: "conf-slow", hidden: true });
  const audience = el("p", { class: "audience", hidden: true });
  const connection = el("p", { class: "connection", role: "status" });
  const leave = el("button", { type: "button", class: "secondary small", onclick: leaveChat }, t("leave"));

  // The live region stays in place; the banner inside comes and goes.
  const answering = el("p", { class: "answering-banner" });
  const answeringLive = el("div", { class: "answering-live", role: "status" });
  const list = el("ol", { class: "messages" });
  const empty = el("p", { class: "empty" }, t("stream_empty"));
  const log = el("div", {
    class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": t("stream_label"),
    tabindex: "0",
  }, empty, list);

  const textarea = el("textarea", {
    id: "question", name: "question", rows: "3", "aria-describedby": "compose-hint compose-count compose-note",
  });
  const count = el("p", { id: "compose-count", class: "counter" }, t("counter", { n: 0, max: MAX_CHARS }));
  const note = el("p", { id: "compose-note", class: "compose-note", hidden: true });
  const feedback = el("p", { id: "compose-feedback", class: "feedback", role: "status" });
  const requestErrors = el("div", { class: "request-errors" });
  const send = el("button", { type: "submit" }, t("send"));
  const form = el("form", { class: "compose", novalidate: true, "aria-labelledby": "ask-title" },
    el("label", { for: "question" }, t("ask_label")),
    el("p", { id: "compose-hint", class: "hint" }, t("ask_hint")),
    note,
    textarea,
    el("div", { class: "compose-row" }, count, send),
    feedback,
    requestErrors);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendQuestion();
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendQuestion();
    }
  });
  textarea.addEventListener("input", updateCounter);

  const mineList = el("ul", { class: "mine-list", "aria-label": t("mine_label") });
  const mineEmpty = el("p", { class: "empty" }, t("mine_empty"));

  const section = el("div", { id: "chat", class: "chat", hidden: true },
    el("section", { class: "card conf", "aria-labelledby": "conf-title" },
      el("div", { class: "conf-head" },
        el("div", { class: "conf-heading" }, title, stateBadge),
        el("div", { class: "conf-session" }, connection, leave)),
      description,
      modeText,
      schedule,
      slow,
      audience),
    el("div", { class: "layout" },
      el("section", { class: "stream", "aria-labelledby": "stream-title" },
        el("h2", { id: "stream-title" }, t("stream_title")),
        buildSortControl(),
        answeringLive,
        log),
      el("div", { class: "side" },
        el("section", { class: "card ask", "aria-labelledby": "ask-title" },
          el("h2", { id: "ask-title" }, t("ask_title")),
          form),
        el("section", { class: "card mine", "aria-labelledby": "mine-title" },
          el("h2", { id: "mine-title" }, t("mine_title")),
          mineEmpty,
          mineList))));
  Object.assign(ui, {
    chat: section, title, description, stateBadge, modeText, schedule, slow, audience, connection, answering, answeringLive,
    log, list, empty, textarea, count, note, feedback, requestErrors, send, mineList, mineEmpty,
  });
  return section;
}

// ------------------------------------------------------------------ session state

function newChatState(nick) {
  return {
    nick,
    joined: false,
    everJoined: false,
    myNicks: new Set(), // every nick this visitor had in this session (folded)
    infoAsked: 0, // when the last CONF INFO was sent without an answer yet
    info: {}, // CONF INFO key → value
    infoBuffer: null,
    state: "",
    mode: "",
    staff: new Map(), // folded nick → "moderator" | "guest"
    namesFresh: true,
    messages: new Map(), // msgid → record
    items: new Map(), // item id → question record
    mine: new Map(), // item id → my question { text, li, status }
    outbox: [], // texts sent without labeled-response, waiting for HELD/FAIL
    historyBatches: new Set(),
    historySeen: null, // msgids in the current history batch (rejoin reconciliation)
    answeringItem: null, // item id
    voteCounts: new Map(), // item id -> votes, as the server last said (CONF VOTES)
    sortChoice: "", // "recent" | "popular" once the visitor picked one; else the conference's
    slowUntil: 0,
    infoTimer: null,
    slowTimer: null,
  };
}

function connect(nick) {
  if (irc) {
    const previous = irc;
    irc = null;
    previous.close();
  }
  chat = newChatState(nick);
  const client = new IrcClient({ url: IrcClient.defaultUrl(settings.websocket || "/ws"), nick, visitor: visitorToken() });
  irc = client;
  client.on("state", (state, detail) => client === irc && onState(state, detail));
  client.on("nickrefused", (msg) => client === irc && onNickRefused(msg));
  client.on("registered", () => client === irc && onRegistered());
  client.on("message", (msg) => client === irc && onMessage(msg));
  client.on("serverError", (text) => client === irc && onServerError(text));
  client.on("close", () => client === irc && onClose());
  followConferenceHistory(client);
  client.connect();
}

// After a dropped connection, what was published meanwhile (and deleted)
// comes after the last message shown, each once (conference.js).
function followConferenceHistory(client) {
  followHistory(client, CONFERENCE);
}

function onNickRefused(msg) {
  // After a reconnection the old connection may still hold the nick: let
  // IrcClient pick a variant rather than throw the visitor out of the chat.
  if (chat && chat.everRegistered) return;
  const client = irc;
  irc = null;
  client.close();
  const wanted = msg.params[1] || chat.nick;
  const description = msg.params[msg.params.length - 1] || "";
  let text;
  if (msg.command === "432") text = t("nick_invalid", { nick: wanted });
  else if (/reserved/i.test(description)) text = t("nick_reserved", { nick: wanted });
  else text = t("nick_taken", { nick: wanted });
  chat = null;
  showNickError(text);
}

function onState(state, detail) {
  const inChat = chat && chat.everRegistered;
  if (!inChat) {
    // Still on the nickname form.
    if (state === "reconnecting") {
      ui.joinStatus.textContent = t("cannot_reach", { s: detail ?? 1 });
      ui.joinButton.disabled = false;
    }
    else if (state === "connecting") ui.joinStatus.textContent = t("connecting");
    return;
  }
  let text;
  if (state === "registered") text = t("connected", { nick: irc.nick });
  else if (state === "reconnecting") text = detail ? t("reconnecting", { s: detail }) : t("reconnecting_now");
  else if (state === "connecting") text = t("reconnecting_now");
  else text = t("disconnected");
  ui.connection.textContent = text;
  ui.connection.dataset.state = state;
  updateComposer();
}

function onRegistered() {
  chat.nick = irc.nick;
  chat.myNicks.add(fold(irc.nick));
  if (ui.feedback.dataset.kind === "conn") showFeedback("", "");
  if (!chat.everRegistered) {
    chat.everRegistered = true;
    storeNick(irc.nick);
    ui.join.hidden = true;
    ui.chat.hidden = false;
    ui.joinButton.disabled = false;
    ui.joinStatus.textContent = "";
  }
  ui.connection.textContent = t("connected", { nick: irc.nick });
  ui.connection.dataset.state = "registered";
  chat.outbox = [];
  chat.namesFresh = true;
  irc.send("JOIN", [CONFERENCE]);
}

function onClose() {
  if (!chat) return;
  chat.joined = false;
  chat.outbox = [];
  clearInterval(chat.infoTimer);
  updateComposer();
}

function onServerError(text) {
  if (!chat || !chat.everRegistered) return;
  // "Closing Link: <host> (<reason>)": the reason is what matters.
  const match = /\((.*)\)\s*$/.exec(text || "");
  showFeedback(t("server_error", { text: plainText(match ? match[1] : text) }), "conn");
}

function leaveChat() {
  const client = irc;
  irc = null;
  if (client) client.close();
  if (chat) {
    clearInterval(chat.infoTimer);
    clearTimeout(chat.slowTimer);
  }
  chat = null;
  resetChatView();
  ui.chat.hidden = true;
  ui.join.hidden = false;
  ui.joinStatus.textContent = t("left");
  ui.nickInput.focus();
}

function resetChatView() {
  ui.list.replaceChildren();
  ui.mineList.replaceChildren();
  ui.mineEmpty.hidden = false;
  ui.empty.hidden = false;
  ui.answeringLive.replaceChildren();
  ui.feedback.textContent = "";
  ui.requestErrors.replaceChildren();
  ui.textarea.value = "";
  ui.title.textContent = CONFERENCE;
  for (const node of [ui.description, ui.stateBadge, ui.modeText, ui.schedule, ui.slow, ui.audience]) node.hidden = true;
  updateCounter();
}

// ------------------------------------------------------------------ incoming lines

const isChannel = (target) => fold(target) === fold(CONFERENCE);
const isMe = (nick) => chat && fold(nick) === fold(irc ? irc.nick : chat.nick);
const wasMe = (nick) => chat && (isMe(nick) || chat.myNicks.has(fold(nick)));
const fromServer = (msg) => !msg.source || !msg.source.includes("!");

function onMessage(msg) {
  if (!chat) return;
  const p = msg.params;
  switch (msg.command) {
    case "JOIN":
      if (isMe(msg.nick) && isChannel(p[0])) onJoined();
      break;
    case "332":
      if (isChannel(p[1])) setTitle(p[2]);
      break;
    case "TOPIC":
      if (isChannel(p[0])) setTitle(p[1]);
      break;
    case "353":
      if (isChannel(p[2])) onNames(p[3] || "");
      break;
    case "366":
      chat.namesFresh = true;
      break;
    case "MODE":
      if (isChannel(p[0])) onMode(p.slice(1));
      break;
    case "NOTE":
      onNote(msg);
      break;
    case "FAIL":
      onFail(msg);
      break;
    case "CONF":
      onConf(msg);
      break;
    case "BATCH":
      onBatch(msg);
      break;
    case "PRIVMSG":
      if (isChannel(p[0])) addPublished(msg);
      break;
    case "NOTICE":
      if (isChannel(p[0])) onChannelNotice(msg);
      break;
    case "REDACT":
      if (isChannel(p[0])) redact(p[1]);
      break;
    case "KICK":
      if (isChannel(p[0]) && isMe(p[1])) onKicked(p[2]);
      break;
    case "NICK":
      if (isMe(p[0])) chat.myNicks.add(fold(p[0]));
      break;
    case "PART":
      if (isChannel(p[0]) && isMe(msg.nick)) chat.joined = false;
      break;
    case "474":
      if (isChannel(p[1])) joinRefused(t("banned"), reasonAfter(p[2], "You are banned from this conference"));
      break;
    case "403":
    case "405":
    case "471":
    case "473":
    case "475":
      if (isChannel(p[1])) joinRefused(t("join_refused"), plainText(p[2] || ""));
      break;
    case "404":
      if (isChannel(p[1])) showFeedback(plainText(p[2] || ""), "error");
      break;
    default:
      break;
  }
}

function onJoined() {
  chat.joined = true;
  chat.removed = false;
  updateComposer();
  askInfo();
  clearInterval(chat.infoTimer);
  chat.infoTimer = setInterval(askInfo, INFO_REFRESH_MS);
}

// CONF INFO, now and then: fresh audience count and state, and a check that
// the connection is alive (a phone waking up may hold a dead socket that the
// browser has not noticed): no answer in time, and the socket is closed,
// which makes IrcClient reconnect.
function askInfo() {
  if (!chat || !chat.joined || !irc || !irc.ws) return;
  const client = irc;
  const asked = Date.now();
  chat.infoAsked = asked;
  client.send("CONF", [CONFERENCE, "INFO"]);
  setTimeout(() => {
    if (client === irc && chat && chat.infoAsked === asked && client.ws) client.ws.close();
  }, LIVENESS_TIMEOUT_MS);
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") askInfo();
});

// Once the conference has said what kind of room it is (and so whether the
// visitor may write), focus the composer, the first time only.
function focusAfterJoin() {
  if (chat.everJoined) return;
  chat.everJoined = true;
  if (!ui.textarea.disabled) ui.textarea.focus();
  else ui.log.focus();
}

function joinRefused(text, reason) {
  chat.joined = false;
  chat.removed = true;
  showFeedback(reason ? `${text} ${t("reason", { reason })}` : text, "error");
  updateComposer();
}

function onKicked(reason) {
  chat.joined = false;
  chat.removed = true;
  const why = plainText(reason || "");
  showFeedback(why ? `${t("kicked")} ${t("reason", { reason: why })}` : t("kicked"), "error");
  updateComposer();
}

function setTitle(text) {
  const title = plainText(text || "").trim();
  ui.title.textContent = title || CONFERENCE;
}

function onNames(names) {
  if (chat.namesFresh) {
    chat.staff = new Map();
    chat.namesFresh = false;
  }
  for (const entry of names.split(" ").filter(Boolean)) {
    const match = /^([@+]*)(.*)$/.exec(entry);
    const nick = match[2].split("!")[0];
    if (match[1].includes("@")) chat.staff.set(fold(nick), "moderator");
    else if (match[1].includes("+")) chat.staff.set(fold(nick), "guest");
  }
}

function onMode(params) {
  const modes = params[0] || "";
  const args = params.slice(1);
  let adding = true;
  for (const c of modes) {
    if (c === "+") adding = true;
    else if (c === "-") adding = false;
    else if (c === "o" || c === "v") {
      const nick = fold(args.shift());
      if (adding) chat.staff.set(nick, c === "o" ? "moderator" : chat.staff.get(nick) === "moderator" ? "moderator" : "guest");
      else if ((c === "o" && chat.staff.get(nick) === "moderator") || (c === "v" && chat.staff.get(nick) === "guest")) chat.staff.delete(nick);
    } else if ("bklIe".includes(c) && (adding || c !== "l")) {
      args.shift();
    }
  }
}

function onNote(msg) {
  const reply = parseReply(msg);
  const { command, code, description, id } = reply;
  const here = isChannel(reply.channel);
  if (command === "JOIN" && code === "CONFERENCE" && here) {
    chat.state = reply.state || chat.state;
    chat.mode = reply.mode || chat.mode;
    renderInfo();
    focusAfterJoin();
    askVotes();
  } else if (command === "NAMES" && code === "AUDIENCE" && here) {
    chat.info.audience = reply.audience;
    renderInfo();
  } else if (command === "PRIVMSG" && code === "HELD" && here) {
    if (msg.tags.label) return; // answered through the labelled request
    const entry = chat.outbox.shift();
    addMine(id, entry ? entry.text : "");
    showFeedback(t("held"), "ok");
  } else if (command === "PRIVMSG" && code === "PUBLISHED" && here) {
    setMineStatus(id, "published");
    const edited = reply.context[2] === "edited";
    if (edited) setMineEdited(id);
    showFeedback(edited ? t("edited_note") : t("published_note"), "ok");
  } else if (command === "CONF" && code === "WITHDRAWN" && here) {
    mineWithdrawn(id);
  } else if (command === "PRIVMSG" && code === "NOT_TAKEN" && here) {
    mineNotTaken(id);
  } else if (command === "PRIVMSG" && code === "DECLINED" && here) {
    const reason = reasonAfter(description, "Your message was not published");
    setMineStatus(id, "declined", reason);
    showFeedback(reason ? `${t("declined_note")} ${t("reason", { reason })}` : t("declined_note"), "error");
  } else if (command === "VOTE" && code === "COUNTED" && here) {
    setVoted(id, reply.votes);
    showFeedback(t("vote_counted"), "ok");
  } else if (code === "RATE_LIMITED") {
    showFeedback(t("rate_limited"), "warn");
  }
}

function onFail(msg) {
  const { command, code, context, ...reply } = parseReply(msg);
  const description = plainText(reply.description);
  if (command === "CONF") chat.infoAsked = 0; // answered, if with an error
  if (command === "PRIVMSG") {
    if (msg.tags.label) return; // answered through the labelled request
    const entry = chat.outbox.shift();
    privmsgFailed(code, context, description, entry ? entry.text : "");
  } else if (command === "VOTE") {
    const item = reply.id;
    if (code === "ALREADY_VOTED") {
      setVoted(item, null);
      showFeedback(t("already_voted"), "warn");
    } else if (code === "CANNOT_VOTE") {
      setNotVotable(item);
      showFeedback(t("cannot_vote"), "warn");
    } else {
      showFeedback(failText(code, description), "error");
    }
  } else if (command === "CONF" && withdrawRefused(code, reply.id)) {
    // the visitor's own list says so
  } else if (command === "CONF" && code === "NO_SUCH_CONFERENCE") {
    showFeedback(t("no_such_conference"), "error");
    focusAfterJoin();
  } else {
    showFeedback(description, "error");
  }
}

function privmsgFailed(code, context, description, text) {
  if (text && !ui.textarea.value.trim()) {
    ui.textarea.value = text;
    updateCounter();
  }
  if (code === "SLOW_MODE") {
    const seconds = Math.max(1, parseInt(context[1], 10) || 1);
    startSlowWait(seconds);
    showFeedback(t("slow_wait", { s: seconds }), "warn");
    return;
  }
  if (code === "MUTED") {
    const reason = reasonAfter(description, "You cannot send messages here");
    showFeedback(reason ? `${t("fail_MUTED")} ${t("reason", { reason })}` : t("fail_MUTED"), "error");
    return;
  }
  if (code === "NOT_OPEN") chat.state = "scheduled";
  if (code === "CLOSED") chat.state = "closed";
  if (code === "READ_ONLY" && chat.mode !== "readonly") {
    // channel mode +m: the conference's own mode is unchanged.
  }
  showFeedback(failText(code, description), "error");
  renderInfo();
}

function startSlowWait(seconds) {
  chat.slowUntil = Date.now() + seconds * 1000;
  clearTimeout(chat.slowTimer);
  updateComposer();
  chat.slowTimer = setTimeout(() => {
    if (!chat) return;
    chat.slowUntil = 0;
    updateComposer();
    if (ui.feedback.dataset.kind === "warn") showFeedback("", "");
  }, seconds * 1000);
}

function onConf(msg) {
  if (onCountLine(msg)) return;
  const line = parseConf(msg);
  if (!line || !isChannel(line.channel)) return;
  if (line.type === "info") {
    chat.infoBuffer ||= {};
    chat.infoBuffer[line.key] = line.value;
  } else if (line.type === "end" && chat.infoBuffer) {
    chat.infoAsked = 0;
    chat.info = chat.infoBuffer;
    chat.infoBuffer = null;
    chat.state = chat.info.state || chat.state;
    chat.mode = chat.info.mode || chat.mode;
    if (chat.info.title) setTitle(chat.info.title);
    if ((chat.info.now_answering ?? null) !== chat.answeringItem) setAnswering(chat.info.now_answering ?? null, null);
    renderInfo();
    renderSortControl();
  }
}

function onBatch(msg) {
  const ref = msg.params[0] || "";
  if (ref.startsWith("+") && msg.params[1] === "chathistory" && isChannel(msg.params[2])) {
    chat.historyBatches.add(ref.slice(1));
    chat.historySeen = new Set();
    ui.log.setAttribute("aria-busy", "true");
  } else if (ref.startsWith("-") && chat.historyBatches.delete(ref.slice(1))) {
    reconcileHistory();
    ui.log.removeAttribute("aria-busy");
    scrollLogToEnd(true);
  }
}

// After a rejoin, anything we show that the fresh history no longer has
// (within the span it covers) was deleted while we were away.
function reconcileHistory() {
  const seen = chat.historySeen;
  chat.historySeen = null;
  if (!seen || !seen.size) return;
  let oldest = Infinity;
  for (const id of seen) {
    const record = chat.messages.get(id);
    if (record) oldest = Math.min(oldest, record.time.getTime());
  }
  for (const [id, record] of [...chat.messages]) {
    if (!seen.has(id) && record.time.getTime() > oldest && !record.local) redact(id);
  }
}

function onChannelNotice(msg) {
  if (!fromServer(msg)) {
    addPublished(msg); // a staff NOTICE is published like a PRIVMSG
    return;
  }
  const news = parseBroadcast(msg);
  if (news.state !== undefined) {
    chat.state = news.state;
    chat.info.state = chat.state;
    addSystem(systemText(`system_state_${chat.state}`, msg), msg);
    renderInfo();
  } else if (news.mode !== undefined) {
    chat.mode = news.mode;
    chat.info.mode = chat.mode;
    addSystem(systemText(`system_mode_${chat.mode}`, msg), msg);
    renderInfo();
  } else if (news.slowMode !== undefined) {
    chat.info.slow_mode = news.slowMode;
    const n = news.slowMode;
    addSystem(n ? t("system_slow_on", { n }) : t("system_slow_off"), msg);
    renderInfo();
  } else if (news.answering !== undefined) {
    setAnswering(news.answering, msg);
  } else if (news.answered !== undefined) {
    setAnswered(news.answered);
  } else if (/deleted by the moderators/.test(msg.params[1] || "")) {
    addSystem(t("system_deleted"), msg); // clients without draft/message-redaction
  }
}

// ------------------------------------------------------------------ the stream

function roleOf(nick) {
  return chat.staff.get(fold(nick)) || null;
}

function metaLine(record, kindLabel) {
  const who = el("span", { class: "author" }, record.author);
  const parts = [who];
  if (record.role) parts.push(el("span", { class: `badge role role-${record.role}` }, t(`role_${record.role}`)));
  if (record.mine) parts.push(el("span", { class: "badge mine-badge" }, t("your_question")));
  if (kindLabel) parts.push(el("span", { class: "visually-hidden" }, kindLabel));
  parts.push(el("time", { datetime: record.time.toISOString() }, shortTime(record.time)));
  return el("p", { class: "meta" }, parts);
}

function addPublished(msg) {
  const msgid = msg.tags.msgid || "";
  const batch = msg.tags.batch;
  if (batch && chat.historySeen && chat.historyBatches.has(batch) && msgid) chat.historySeen.add(msgid);
  if (msgid && chat.messages.has(msgid)) return; // history after a reconnection
  const { item, replyTo } = messageItem(msg);
  const author = msg.nick || "";
  const text = plainText(msg.params[1] || "");
  const isQuestion = item !== null && !replyTo;
  const record = {
    msgid: msgid || nextId("local"),
    local: !msgid,
    item,
    author,
    text,
    time: messageTime(msg),
    role: isQuestion ? null : roleOf(author) || "staff",
    mine: isQuestion && (chat.mine.has(item) || wasMe(author)),
    isQuestion,
    answered: false,
    voted: false,
    votable: true,
  };
  record.domId = nextId("m");
  const li = el("li", { id: record.domId, class: `msg ${isQuestion ? "question" : replyTo ? "answer" : "staff"}` });
  if (record.role) li.classList.add("from-staff");
  if (record.mine) li.classList.add("is-mine");
  record.li = li;
  record.body = el("p", { class: "message-text" }, text);
  const kindLabel = isQuestion ? t("question") : replyTo ? t("answer") : "";
  li.append(metaLine(record, kindLabel), record.body);
  chat.messages.set(record.msgid, record);

  if (isQuestion) {
    record.badges = el("span", { class: "badges" });
    record.voteButton = el("button", { type: "button", class: "vote secondary small", hidden: true, onclick: () => vote(record) });
    record.status = el("div", { class: "msg-status" }, record.badges, record.voteButton);
    record.answers = el("ol", { class: "answers", "aria-label": t("answers_label", { who: author }), hidden: true });
    li.append(record.status, record.answers);
    record.votes = chat.voteCounts.get(item) || 0;
    record.countEl = el("span", { class: "vote-count", hidden: true });
    record.status.append(record.countEl);
    chat.items.set(item, record);
    if (chat.mine.has(item)) setMineStatus(item, "published");
    renderQuestionStatus(record);
    appendToStream(li);
    if (chat.answeringItem === item) setAnswering(item, null);
    return;
  }
  const question = replyTo ? chat.messages.get(replyTo) : null;
  if (question && question.isQuestion && question.answers) {
    question.answers.hidden = false;
    question.answers.append(li);
    question.hasAnswer = true;
    renderQuestionStatus(question);
    scrollLogToEnd(false);
    return;
  }
  if (replyTo) li.insertBefore(el("p", { class: "reply-note" }, t("reply_to")), record.body);
  appendToStream(li);
}

function appendToStream(li) {
  ui.empty.hidden = true;
  li.dataset.seq = String(++streamSeq);
  ui.list.append(li);
  if (questionOrder() === "popular") sortStream();
  scrollLogToEnd(false);
}

function scrollLogToEnd(force) {
  const log = ui.log;
  if (log.scrollHeight <= log.clientHeight) return;
  const nearEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 160;
  if (force || nearEnd) log.scrollTop = log.scrollHeight;
}

function addSystem(text, msg) {
  const msgid = msg && msg.tags.msgid;
  if (msgid && chat.messages.has(msgid)) return;
  const time = msg ? messageTime(msg) : new Date();
  const li = el("li", { class: "msg system" },
    el("p", { class: "message-text" }, text, " ", el("time", { datetime: time.toISOString() }, shortTime(time))));
  if (msgid) chat.messages.set(msgid, { msgid, li, time, system: true, local: true });
  appendToStream(li);
}

function renderQuestionStatus(record) {
  record.badges.replaceChildren();
  if (record.answering) record.badges.append(el("span", { class: "badge answering-badge" }, t("now_answering")));
  if (record.answered) record.badges.append(el("span", { class: "badge answered-badge" }, t("answered")));
  // The button is updated in place, so that it keeps the focus.
  const button = record.voteButton;
  const context = el("span", { class: "visually-hidden" }, t("for_question_of", { who: record.author }));
  const canVote = !record.answered && !record.hasAnswer && !record.mine && record.votable;
  if (record.voted) {
    button.hidden = false;
    button.setAttribute("aria-disabled", "true");
    button.classList.add("is-voted");
    button.replaceChildren(el("span", { "aria-hidden": "true", class: "vote-mark" }, "✓ "), t("voted"), context,
      record.votes ? ` · ${t("votes", { n: record.votes })}` : "");
  } else if (canVote) {
    button.hidden = false;
    button.removeAttribute("aria-disabled");
    button.classList.remove("is-voted");
    button.replaceChildren(el("span", { "aria-hidden": "true", class: "vote-mark" }, "▲ "), t("vote"), context);
  } else {
    button.hidden = true;
  }
  renderVoteCount(record);
  record.status.hidden = !record.badges.childNodes.length && button.hidden && record.countEl.hidden;
}

function vote(record) {
  if (record.voted || record.votePending) return;
  if (!irc || !chat.joined) {
    showFeedback(t("cannot_send_now"), "error");
    return;
  }
  record.votePending = true;
  setTimeout(() => { record.votePending = false; }, 5000);
  irc.send("VOTE", [CONFERENCE, record.item]);
}

function setVoted(item, votes) {
  const record = chat.items.get(item);
  if (!record) return;
  record.voted = true;
  record.votePending = false;
  if (votes) record.votes = votes;
  if (votes) chat.voteCounts.set(item, votes);
  renderQuestionStatus(record);
  if (questionOrder() === "popular") sortStream();
}

function setNotVotable(item) {
  const record = chat.items.get(item);
  if (!record) return;
  record.votable = false;
  record.votePending = false;
  renderQuestionStatus(record);
}

function setAnswering(item, msg) {
  const previous = chat.items.get(chat.answeringItem);
  if (previous) {
    previous.answering = false;
    previous.li.classList.remove("answering");
    renderQuestionStatus(previous);
  }
  chat.answeringItem = item ?? null;
  if (item === null || item === undefined) {
    ui.answeringLive.replaceChildren();
    return;
  }
  const record = chat.items.get(item);
  let who = "";
  let text = "";
  if (record) {
    record.answering = true;
    record.li.classList.add("answering");
    renderQuestionStatus(record);
    who = record.author;
    text = record.text;
  } else if (msg) {
    // Not in our stream (older than the history): the server's words.
    const raw = plainText(msg.params[1] || "").replace(/^Now answering:\s*/, "");
    const at = raw.indexOf(": ");
    who = at > 0 ? raw.slice(0, at) : "";
    text = at > 0 ? raw.slice(at + 2) : raw;
  } else {
    return;
  }
  ui.answering.replaceChildren(
    el("strong", {}, t("now_answering") + t("colon")), " ",
    who ? el("span", { class: "author" }, who) : "", who ? t("colon") + " " : "",
    el("span", { class: "answering-text" }, text));
  if (record) {
    const link = el("a", { href: `#${record.domId}` }, t("see_it"));
    ui.answering.append(" ", link);
  }
  ui.answeringLive.replaceChildren(ui.answering);
}

function setAnswered(item) {
  const record = chat.items.get(item);
  if (chat.answeringItem === item) setAnswering(null, null);
  if (!record) return;
  record.answered = true;
  record.li.classList.add("is-answered");
  renderQuestionStatus(record);
  if (questionOrder() === "popular") sortStream();
}

function redact(msgid) {
  const record = chat.messages.get(msgid);
  if (!record) return;
  chat.messages.delete(msgid);
  if (record.isQuestion) {
    chat.items.delete(record.item);
    // The visitor's own list says so, without a link to a removed message.
    const mine = chat.mine.get(record.item);
    if (mine) {
      mine.detail.replaceChildren(t("deleted_question"));
      mine.detail.hidden = false;
    }
    if (chat.answeringItem === record.item) setAnswering(null, null);
    if (record.answers && record.answers.children.length) {
      // Keep the published answers; the question itself goes.
      record.li.replaceChildren(el("p", { class: "deleted-note" }, t("deleted_question")), record.answers);
      record.li.classList.add("deleted");
      return;
    }
  }
  const parent = record.li.parentElement;
  record.li.remove();
  if (parent && parent.classList.contains("answers") && !parent.children.length) {
    parent.hidden = true;
    const stub = parent.closest("li.deleted");
    if (stub) stub.remove(); // a deleted question kept only for its answers
    const question = [...chat.messages.values()].find((r) => r.answers === parent);
    if (question) {
      question.hasAnswer = false;
      renderQuestionStatus(question);
    }
  }
  if (!ui.list.children.length) ui.empty.hidden = false;
}

// ------------------------------------------------------------------ conference info

function renderInfo() {
  const info = chat.info;
  const state = chat.state || info.state || "";
  const mode = chat.mode || info.mode || "";
  if (t.has(`state_${state}`)) {
    ui.stateBadge.textContent = t(`state_${state}`);
    ui.stateBadge.className = `badge state state-${state}`;
    ui.stateBadge.hidden = false;
  }
  ui.description.textContent = plainText(info.description || "");
  ui.description.hidden = !info.description;
  ui.modeText.textContent = t.has(`mode_${mode}`) ? t(`mode_${mode}`) : "";
  ui.modeText.hidden = !t.has(`mode_${mode}`);
  const rows = [];
  for (const key of ["opens", "starts", "ends"]) {
    if (info[key]) rows.push(el("div", {}, el("dt", {}, t(key)), el("dd", {}, el("time", { datetime: info[key] }, humanDate(info[key])))));
  }
  ui.schedule.replaceChildren(...rows);
  ui.schedule.hidden = !rows.length;
  ui.schedule.setAttribute("aria-label", t("schedule"));
  const slow = parseInt(info.slow_mode, 10) || 0;
  ui.slow.textContent = slow ? t("slow_mode", { n: slow }) : "";
  ui.slow.hidden = !slow;
  const audience = parseInt(info.audience, 10);
  ui.audience.textContent = Number.isNaN(audience) ? "" : t("audience", { n: audience });
  ui.audience.hidden = Number.isNaN(audience);
  updateComposer();
}

// ------------------------------------------------------------------ composing

function writingBlocked() {
  if (!chat) return "";
  if (chat.state === "scheduled" || chat.state === "closed") return chat.state;
  if (chat.mode === "readonly") return "readonly";
  return "";
}

function updateComposer() {
  if (!chat) return;
  const blocked = writingBlocked();
  const connected = Boolean(irc && irc.registered && chat.joined);
  ui.textarea.disabled = Boolean(blocked);
  ui.send.disabled = Boolean(blocked) || !connected || Date.now() < chat.slowUntil;
  let note = "";
  if (blocked) note = t(`writing_closed_${blocked}`);
  else if (!connected && chat.everJoined && !chat.removed) note = t("not_connected");
  ui.note.textContent = note;
  ui.note.hidden = !note;
  if (blocked && ui.feedback.dataset.kind === "warn") showFeedback("", "");
}

function updateCounter() {
  const n = [...ui.textarea.value].length;
  ui.count.textContent = t("counter", { n, max: MAX_CHARS });
  ui.count.classList.toggle("over", n > MAX_CHARS);
}

function showFeedback(text, kind) {
  ui.feedback.textContent = text;
  ui.feedback.dataset.kind = kind;
  ui.feedback.className = `feedback ${kind}`;
}

function sendQuestion() {
  if (!chat) return;
  const text = ui.textarea.value.replace(/\s*[\r\n]+\s*/g, " ").trim();
  if (!text) {
    showFeedback(t("empty_question"), "error");
    ui.textarea.focus();
    return;
  }
  const length = [...text].length;
  const maxBytes = 500 - utf8Length(`PRIVMSG ${CONFERENCE} :`);
  if (length > MAX_CHARS || utf8Length(text) > maxBytes) {
    showFeedback(t("too_long", { n: Math.max(1, length - MAX_CHARS) }), "error");
    ui.textarea.focus();
    return;
  }
  if (!canSend()) return;
  ui.textarea.value = "";
  updateCounter();
  showFeedback("", "");
  ui.textarea.focus();
  postQuestion(text);
}

// Whether a question can go now; if not, the feedback says why.
function canSend() {
  if (irc && irc.registered && chat.joined && !ui.send.disabled) return true;
  if (Date.now() < chat.slowUntil) showFeedback(t("slow_wait", { s: Math.ceil((chat.slowUntil - Date.now()) / 1000) }), "warn");
  else if (writingBlocked()) showFeedback(t(`writing_closed_${writingBlocked()}`), "error");
  else showFeedback(t("cannot_send_now"), "error");
  return false;
}

function postQuestion(text) {
  ui.requestErrors.replaceChildren();
  const client = irc;
  if (client.caps.has("labeled-response")) {
    client.request("PRIVMSG", [CONFERENCE, text]).then((replies) => {
      if (client !== irc || !chat) return;
      for (const reply of replies.map(parseReply)) {
        if (!reply || reply.command !== "PRIVMSG") continue;
        if (reply.kind === "NOTE" && reply.code === "HELD") {
          addMine(reply.id, text);
          showFeedback(t("held"), "ok");
        } else if (reply.kind === "FAIL") {
          privmsgFailed(reply.code, reply.context, plainText(reply.description), text);
        }
      }
    }, (error) => {
      if (!(error instanceof RequestError)) throw error;
      if (client !== irc || !chat) return;
      questionUnanswered(error, text);
    });
  } else {
    chat.outbox.push({ text });
    client.send("PRIVMSG", [CONFERENCE, text]);
  }
}

// No answer to a question sent: it may not have arrived. Retry sends the
// same text again; when it cannot go now, the text goes back into the
// composer (unless another is being written) and the feedback says why.
function questionUnanswered(error, text) {
  ui.requestErrors.replaceChildren(retryNotice(unansweredText(error, "question"), () => {
    if (!chat) return;
    if (canSend()) {
      showFeedback("", "");
      postQuestion(text);
    } else if (!ui.textarea.value.trim()) {
      ui.textarea.value = text;
      updateCounter();
    }
  }));
}

// ------------------------------------------------------------------ my questions

function addMine(item, text) {
  if (item === null || chat.mine.has(item)) return;
  const status = el("span", { class: "badge pending-badge" }, t("pending"));
  const detail = el("p", { class: "mine-detail", hidden: true });
  const li = el("li", { class: "mine-item pending" },
    el("p", { class: "message-text" }, plainText(text)),
    el("p", { class: "mine-status" }, status),
    detail);
  const entry = { item, text, li, status, detail, state: "pending" };
  entry.withdraw = buildWithdrawButton(entry);
  li.append(entry.withdraw);
  chat.mine.set(item, entry);
  ui.mineEmpty.hidden = true;
  ui.mineList.prepend(li);
  // Published while we were away (seen in the history)?
  const question = chat.items.get(item);
  if (question) setMineStatus(item, "published");
}

function setMineStatus(item, state, reason = "") {
  const entry = chat.mine.get(item);
  if (!entry) return;
  entry.state = state;
  entry.li.className = `mine-item ${state}`;
  entry.status.className = `badge ${state}-badge`;
  entry.status.textContent = state === "published" ? t("published") : state === "declined" ? t("declined")
    : state === "withdrawn" ? t("withdrawn") : t("pending");
  if (entry.withdraw) entry.withdraw.hidden = state !== "pending";
  entry.detail.replaceChildren();
  entry.detail.hidden = true;
  if (state === "declined" && reason) {
    entry.detail.textContent = t("reason", { reason });
    entry.detail.hidden = false;
  }
  const question = chat.items.get(item);
  if (state === "published" && question) {
    if (!question.mine) {
      question.mine = true;
      question.li.classList.add("is-mine");
      question.li.querySelector(".meta").replaceWith(metaLine(question, t("question")));
      renderQuestionStatus(question);
    }
    entry.detail.append(el("a", { href: `#${question.domId}` }, t("see_it")));
    entry.detail.hidden = false;
  }
  renderMineEdited(entry);
}

// ------------------------------------------------------------------ vote counts and the order of the questions

let streamSeq = 0; // the order in which entries reached the stream ("recent")
const MAX_VOTE_PAGES = 10; // CONF VOTES pages followed after a join (2,000 questions)

// The counts of the questions published before we came (the live ones
// come as CONF VOTES lines, at most one per question a second).
function askVotes(from = null) {
  if (!irc || !chat) return;
  if (from === null) chat.votePages = 0;
  irc.send("CONF", from === null ? [CONFERENCE, "VOTES"] : [CONFERENCE, "VOTES", String(from)]);
}

// CONF <channel> VOTES <item> <votes>, CONF <channel> HEADCOUNT <n> (the
// audience size, live) and the MORE of a VOTES listing; true if `msg` was one.
function onCountLine(msg) {
  const [channel = "", sub = "", first = ""] = msg.params;
  if (!isChannel(channel)) return false;
  if (sub === "HEADCOUNT") {
    chat.info.audience = first;
    renderInfo();
    return true;
  }
  if (sub === "MORE") {
    const next = parseInt(first, 10);
    if (next > 0 && (chat.votePages = (chat.votePages || 0) + 1) < MAX_VOTE_PAGES) askVotes(next);
    return true;
  }
  const line = parseConf(msg);
  if (!line || line.type !== "votes" || line.id === null) return false;
  setVoteCount(line.id, line.votes);
  return true;
}

function setVoteCount(item, votes) {
  chat.voteCounts.set(item, votes);
  const record = chat.items.get(item);
  if (!record) return;
  record.votes = votes;
  renderQuestionStatus(record);
  if (questionOrder() === "popular") sortStream();
}

// The count beside a question (the Voted button says it once voted).
function renderVoteCount(record) {
  if (!record.countEl) return;
  const n = record.votes || 0;
  record.countEl.textContent = n ? t("votes", { n }) : "";
  record.countEl.hidden = !n || record.voted;
}

function buildSortControl() {
  const group = el("fieldset", { class: "sort-control" }, el("legend", {}, t("sort_label")));
  ui.sortInputs = {};
  for (const value of ["recent", "popular"]) {
    const input = el("input", { type: "radio", name: "question-order", value, id: `sort-${value}` });
    input.addEventListener("change", () => {
      if (!input.checked || !chat) return;
      chat.sortChoice = value;
      sortStream();
    });
    ui.sortInputs[value] = input;
    group.append(el("label", { for: `sort-${value}`, class: "sort-option" }, input, " ", t(`sort_${value}`)));
  }
  return group;
}

// The visitor's choice, else the conference's default (CONF INFO sort).
function questionOrder() {
  return (chat && (chat.sortChoice || chat.info.sort)) || "recent";
}

function renderSortControl() {
  const order = questionOrder();
  for (const [value, input] of Object.entries(ui.sortInputs || {})) input.checked = value === order;
  sortStream();
}

// Recent: as the entries came. Popular: the open questions by votes (ties:
// the earlier first), then the answered ones, then the rest (staff
// messages, notices) as they came. Only moved when the order changes; the
// focus stays where it was.
function sortStream() {
  if (!chat) return;
  const popular = questionOrder() === "popular";
  const records = new Map([...chat.items.values()].map((record) => [record.li, record]));
  const seq = (li) => Number(li.dataset.seq) || 0;
  const group = (li) => {
    const record = records.get(li);
    return !record ? 2 : record.answered ? 1 : 0;
  };
  const current = [...ui.list.children];
  const wanted = [...current].sort((a, b) => {
    if (popular) {
      const byGroup = group(a) - group(b);
      if (byGroup) return byGroup;
      if (group(a) < 2) {
        const byVotes = (records.get(b).votes || 0) - (records.get(a).votes || 0);
        if (byVotes) return byVotes;
      }
    }
    return seq(a) - seq(b);
  });
  if (wanted.every((li, i) => li === current[i])) return;
  const focused = document.activeElement;
  const busy = ui.log.hasAttribute("aria-busy");
  ui.log.setAttribute("aria-busy", "true"); // a reordering, not news
  ui.list.append(...wanted);
  if (!busy) ui.log.removeAttribute("aria-busy");
  if (focused && focused !== document.activeElement && ui.list.contains(focused)) focused.focus({ preventScroll: true });
}

// ------------------------------------------------------------------ withdrawing and edits (your questions)

function buildWithdrawButton(entry) {
  const text = plainText(entry.text || "");
  const button = el("button", {
    type: "button", class: "secondary small withdraw", "aria-label": text ? t("withdraw_label", { text }) : null,
  }, t("withdraw"));
  button.addEventListener("click", () => withdrawMine(entry));
  return button;
}

function withdrawMine(entry) {
  if (entry.state !== "pending" || entry.withdrawing) return;
  if (!irc || !chat.joined) {
    showFeedback(t("cannot_send_now"), "error");
    return;
  }
  entry.withdrawing = true;
  entry.withdraw.setAttribute("aria-disabled", "true");
  irc.send("CONF", [CONFERENCE, "WITHDRAW", String(entry.item)]);
}

function mineWithdrawn(item) {
  const entry = chat.mine.get(item);
  if (!entry) return;
  entry.withdrawing = false;
  setMineStatus(item, "withdrawn");
  showFeedback(t("withdrawn_note"), "ok");
}

// A refused WITHDRAW (decided meanwhile): true if it was ours.
function withdrawRefused(code, item) {
  const entry = chat.mine.get(item);
  if (!entry || !entry.withdrawing || !["ALREADY_DECIDED", "NOT_AUTHOR"].includes(code)) return false;
  entry.withdrawing = false;
  entry.withdraw.hidden = true;
  showFeedback(t("withdraw_failed"), "warn");
  return true;
}

// NOTE PRIVMSG PUBLISHED … edited: the author alone is told.
function setMineEdited(item) {
  const entry = chat.mine.get(item);
  if (!entry) return;
  entry.edited = true;
  renderMineEdited(entry);
}

function renderMineEdited(entry) {
  if (!entry.edited) return;
  entry.editedBadge ||= el("span", { class: "badge edited-badge" }, t("edited"));
  if (!entry.editedBadge.isConnected) entry.status.after(" ", entry.editedBadge);
  const question = chat.items.get(entry.item);
  if (question && question.text !== plainText(entry.text || "")) {
    entry.publishedAs ||= el("p", { class: "mine-published-as" });
    entry.publishedAs.textContent = t("published_as", { text: question.text });
    if (!entry.publishedAs.isConnected) entry.detail.before(entry.publishedAs);
  }
}

// The conference closed while the question waited (NOTE PRIVMSG NOT_TAKEN):
// it no longer awaits moderation, it was not taken.
function mineNotTaken(item) {
  const entry = chat.mine.get(item);
  if (!entry || entry.state !== "pending") return;
  setMineStatus(item, "not-taken");
  entry.status.textContent = t("not_taken");
  entry.detail.textContent = t("not_taken_detail");
  entry.detail.hidden = false;
}

// ------------------------------------------------------------------ start

function start() {
  if (!main) return;
  if (!CONFERENCE) {
    main.append(el("p", { class: "card notice" }, t("no_conference")));
    return;
  }
  main.append(buildJoinForm(), buildChat());
  resetChatView();
}

start();
