// The guest console: the mayor (the conference's guest) signs in with SASL
// over the WebSocket, sees the questions the moderators forwarded, answers
// them (threaded under the question), picks popular published questions,
// uses prepared answers, and follows what everyone sees.
//
// Everything user-supplied goes into the page as text only (el() and
// textContent); no inline scripts or styles (the page has a strict CSP).

import { IrcClient, RequestError, el, pageSettings, messageTime, plainText } from "./irc.js";
import {
  LANG, conferenceInfo, fold, messageItem, nextPage, parseBroadcast, parseConf, parsePrepared, parseQueueItem, parseReply,
  retryNotice, t, unansweredText,
} from "./conference.js";

const settings = pageSettings();
const CHANNEL = settings.conference || "";
const LINE_BYTES = 510; // 512 with CRLF
const NAME_PATTERN = /^[^\s:,]{1,40}$/;
const STREAM_MAX = 300;

function votesText(n) {
  return t("votes", { n });
}

function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

function shorten(text, max = 70) {
  const clean = plainText(text);
  return clean.length > max ? clean.slice(0, max - 1) + "…" : clean;
}

// The browser's own variant of the page's language (en-GB: 24-hour clock).
const LOCALE = (navigator.languages || [navigator.language]).find((l) => l && l.toLowerCase().startsWith(LANG)) || LANG;
const timeFormat = new Intl.DateTimeFormat(LOCALE, { hour: "2-digit", minute: "2-digit" });
const relative = new Intl.RelativeTimeFormat(LOCALE, { numeric: "auto" });

function ago(unixSeconds) {
  const seconds = Math.max(0, Date.now() / 1000 - unixSeconds);
  if (seconds < 60) return t("just_now");
  if (seconds < 3600) return relative.format(-Math.floor(seconds / 60), "minute");
  return relative.format(-Math.floor(seconds / 3600), "hour");
}

// ------------------------------------------------------------------ state

const state = {
  client: null,
  account: "",
  password: "",
  loggedIn: false, // SASL succeeded on the current connection
  everConnected: false,
  triedOtherNick: false,
  role: "",
  title: "",
  confState: "",
  nowAnswering: null, // item id
  forwarded: new Map(), // id -> {id, author, submitted, text, node}
  questions: new Map(), // id -> {id, votes, status, msgid, author, text, node, ...}
  prepared: [],
  preparedIncoming: null,
  markAnsweredAfter: new Set(), // item ids: send CONF ANSWERED once our answer is back
  stream: new Map(), // msgid -> {node, replies}
  resortPending: false,
};

// ------------------------------------------------------------------ layout

const main = document.getElementById("main");
const ui = {};

function section(id, headingKey, headButton, ...children) {
  return el(
    "section",
    { id, class: "panel", "aria-labelledby": `${id}-heading` },
    el("div", { class: "panel-head" }, el("h2", { id: `${id}-heading`, tabindex: "-1", text: t(headingKey) }), headButton),
    ...children,
  );
}

function buildLogin() {
  ui.loginAccount = el("input", {
    id: "login-account", name: "account", type: "text", autocomplete: "username", "aria-describedby": "login-error",
    autocapitalize: "none", spellcheck: "false", required: true,
  });
  ui.loginPassword = el("input", {
    id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true,
    "aria-describedby": "login-error",
  });
  ui.loginButton = el("button", { type: "submit", text: t("sign_in") });
  ui.loginError = el("p", { id: "login-error", class: "error", role: "alert" });
  ui.loginForm = el(
    "form",
    { id: "login-form", novalidate: true, onsubmit: onLoginSubmit },
    el("div", { class: "field" }, el("label", { for: "login-account", text: t("account") }), ui.loginAccount),
    el("div", { class: "field" }, el("label", { for: "login-password", text: t("password") }), ui.loginPassword),
    ui.loginButton,
  );
  ui.login = el(
    "section",
    { id: "login", class: "panel login", "aria-labelledby": "login-heading" },
    el("h2", { id: "login-heading", text: t("sign_in_heading") }),
    el("p", { text: t("sign_in_intro") }),
    ui.loginForm,
    ui.loginError,
  );
  return ui.login;
}

function buildConsole() {
  ui.confTitle = el("span", { class: "conf-title" });
  ui.confState = el("span", { class: "conf-state" });
  ui.whoami = el("span", { class: "whoami" });
  ui.connection = el("span", { class: "connection", text: t("conn_connecting") });
  ui.signOut = el("button", { type: "button", class: "secondary", text: t("sign_out"), onclick: signOut });
  ui.bar = el(
    "div",
    { class: "guest-bar", hidden: true },
    el("p", { class: "conf" }, el("span", { class: "visually-hidden", text: t("conference") + " " }), ui.confTitle, " ", ui.confState),
    el("p", { class: "who" }, ui.whoami, " · ", ui.connection),
    ui.signOut,
  );

  ui.nowText = el("p", { class: "now-text", text: t("now_none") });
  ui.nowAnswered = el("button", { type: "button", hidden: true, text: t("mark_answered"), onclick: () => markAnswered(state.nowAnswering) });
  ui.now = el(
    "section",
    { id: "now", class: "panel now", "aria-labelledby": "now-heading" },
    el("h2", { id: "now-heading", tabindex: "-1", text: t("now_heading") }),
    ui.nowText,
    ui.nowAnswered,
  );

  ui.forYouList = el("ul", { class: "cards", id: "for-you-list" });
  ui.forYouEmpty = el("p", { class: "empty", text: t("for_you_empty") });
  ui.forYouCount = el("span", { class: "count" });
  ui.forYou = section("for-you", "for_you_heading", null, el("p", { class: "intro", text: t("for_you_intro") }), ui.forYouEmpty, ui.forYouList);
  ui.forYou.querySelector("h2").append(" ", ui.forYouCount);

  ui.questionList = el("ol", { class: "cards", id: "question-list" });
  ui.questionList.addEventListener("focusout", () => {
    // Reorder only when the guest is not working inside the list.
    setTimeout(() => {
      if (state.resortPending && !ui.questionList.contains(document.activeElement)) sortQuestions();
    }, 0);
  });
  ui.questionsEmpty = el("p", { class: "empty", text: t("published_empty") });
  ui.questions = section(
    "published", "published_heading",
    el("button", { type: "button", class: "secondary refresh" }, t("refresh"),
      el("span", { class: "visually-hidden", text: ` – ${t("published_heading")}` })),
    el("p", { class: "intro", text: t("published_intro") }),
    ui.questionsEmpty, ui.questionList,
  );

  ui.preparedList = el("ul", { class: "cards prepared-list", id: "prepared-list" });
  ui.preparedEmpty = el("p", { class: "empty", text: t("prepared_empty") });
  ui.preparedName = el("input", {
    id: "prepared-name", name: "name", type: "text", required: true, maxlength: "40",
    autocapitalize: "none", spellcheck: "false", "aria-describedby": "prepared-name-hint",
  });
  ui.preparedText = el("textarea", { id: "prepared-text", name: "text", rows: "3", required: true, "aria-describedby": "prepared-text-left" });
  ui.preparedLeft = el("p", { id: "prepared-text-left", class: "left" });
  ui.preparedText.addEventListener("input", updatePreparedLeft);
  ui.preparedName.addEventListener("input", updatePreparedLeft);
  ui.preparedForm = el(
    "form",
    { id: "prepared-form", class: "prepared-form", novalidate: true, "aria-labelledby": "prepared-form-heading", onsubmit: onPreparedSubmit },
    el("h3", { id: "prepared-form-heading", text: t("new_prepared") }),
    el("div", { class: "field" },
      el("label", { for: "prepared-name", text: t("name") }),
      el("p", { id: "prepared-name-hint", class: "hint", text: t("name_hint") }),
      ui.preparedName),
    el("div", { class: "field" }, el("label", { for: "prepared-text", text: t("text") }), ui.preparedText, ui.preparedLeft),
    el("button", { type: "submit", text: t("save_prepared") }),
  );
  ui.prepared = section(
    "prepared", "prepared_heading",
    el("button", { type: "button", class: "secondary refresh" }, t("refresh"),
      el("span", { class: "visually-hidden", text: ` – ${t("prepared_heading")}` })),
    el("p", { class: "intro", text: t("prepared_intro") }),
    ui.preparedEmpty, ui.preparedList, ui.preparedForm,
  );

  ui.streamList = el("ol", { class: "stream-list", id: "stream-list" });
  ui.streamEmpty = el("p", { class: "empty", text: t("stream_empty") });
  ui.streamBox = el("div", { class: "stream-box", tabindex: "0", role: "group", "aria-labelledby": "stream-heading" }, ui.streamEmpty, ui.streamList);
  ui.stream = section("stream", "stream_heading", null, el("p", { class: "intro", text: t("stream_intro") }), ui.streamBox);

  ui.console = el(
    "div",
    { id: "console", class: "guest-console", hidden: true },
    ui.now,
    el(
      "div",
      { class: "guest-columns" },
      el("div", { class: "column" }, ui.forYou, ui.questions),
      el("div", { class: "column" }, ui.prepared, ui.stream),
    ),
  );
  updateForYouCount();
  updatePreparedLeft();
  return ui.console;
}

function build() {
  ui.status = el("div", {
    id: "guest-status", class: "guest-status", role: "log", "aria-live": "polite", "aria-label": t("status_label"),
  });
  ui.problems = el("div", { id: "guest-problems", class: "guest-problems" });
  buildConsole();
  main.append(ui.bar, ui.status, ui.problems, buildLogin(), ui.console);
  ui.questions.querySelector(".refresh").addEventListener("click", () => refreshQuestions());
  ui.prepared.querySelector(".refresh").addEventListener("click", () => refreshPrepared());
  if (!CHANNEL) showLoginError(t("no_conference_set"));
  ui.loginAccount.focus();
}

// ------------------------------------------------------------------ status

function say(text, kind = "info") {
  const line = el(
    "p",
    { class: `status-line ${kind}` },
    el("span", { class: "status-time", text: timeFormat.format(new Date()) }),
    " ",
    kind === "error" ? el("strong", { text: t("error") + " " }) : null,
    plainText(text),
  );
  ui.status.append(line);
  while (ui.status.children.length > 2) ui.status.firstElementChild.remove();
}

// A request the server did not answer, with a Retry button (the latest
// few are kept).
function showProblem(text, retry) {
  ui.problems.append(retryNotice(text, retry));
  while (ui.problems.children.length > 3) ui.problems.firstElementChild.remove();
}

function showLoginError(text) {
  ui.loginError.textContent = text;
}

function setConnection(text, warn = true) {
  ui.connection.textContent = text;
  ui.connection.classList.toggle("warn", warn);
}

// ------------------------------------------------------------------ login

function onLoginSubmit(event) {
  event.preventDefault();
  const account = ui.loginAccount.value.trim();
  const password = ui.loginPassword.value;
  if (!account || !password) {
    showLoginError(t("need_credentials"));
    (account ? ui.loginPassword : ui.loginAccount).focus();
    return;
  }
  if (!CHANNEL) {
    showLoginError(t("no_conference_set"));
    return;
  }
  showLoginError("");
  ui.loginButton.disabled = true;
  ui.loginButton.textContent = t("signing_in");
  state.account = account;
  state.password = password;
  state.triedOtherNick = false;
  state.everConnected = false;
  startClient(account);
}

function loginDone(error) {
  ui.loginButton.disabled = false;
  ui.loginButton.textContent = t("sign_in");
  if (error) {
    showLoginError(error);
    showConsole(false);
    ui.loginPassword.value = "";
    ui.loginPassword.focus();
  }
}

function startClient(nick) {
  if (state.client) state.client.close();
  const client = new IrcClient({ nick, account: state.account, password: state.password });
  state.client = client;
  let nickRefused = null;
  client.on("message", (msg) => {
    if (state.client !== client) return;
    try {
      onMessage(msg);
    } catch (error) {
      console.error(error);
    }
  });
  client.on("loginfailed", (msg) => {
    if (state.client !== client) return;
    client.close();
    state.client = null;
    const reason = msg.command === "904" ? t("login_failed") : t("login_aborted", { reason: msg.params[msg.params.length - 1] || msg.command });
    if (state.everConnected) say(reason, "error");
    forgetCredentials();
    loginDone(reason);
  });
  client.on("nickrefused", (msg) => {
    nickRefused = msg;
  });
  client.on("registered", () => {
    if (state.client !== client) return;
    if (!state.loggedIn) {
      // The server registered us without a login: no SASL on offer.
      client.close();
      state.client = null;
      forgetCredentials();
      loginDone(t("login_unavailable"));
      return;
    }
    onRegistered();
  });
  client.on("state", (name, detail) => {
    if (state.client !== client) return;
    if (name === "reconnecting") {
      setConnection(t("conn_reconnecting", { s: detail ?? 1 }));
      if (state.everConnected) say(t("conn_reconnecting", { s: detail ?? 1 }), "warn");
      else {
        // Never got in: do not retry forever behind a spinner.
        client.close();
        state.client = null;
        loginDone(t("cannot_connect"));
      }
    } else if (name === "failed") {
      setConnection(t("conn_failed"));
      if (nickRefused && !state.triedOtherNick) {
        state.triedOtherNick = true;
        const other = `${state.account.slice(0, 24)}_${Math.floor(Math.random() * 900 + 100)}`;
        say(t("nick_taken", { nick: nick, other }), "warn");
        startClient(other);
      } else if (!state.everConnected) {
        state.client = null;
        loginDone(nickRefused ? nickRefused.params[nickRefused.params.length - 1] : t("cannot_connect"));
      }
    } else if (name === "connecting") {
      setConnection(t("conn_connecting"));
    }
  });
  client.on("close", () => {
    if (state.client === client) state.loggedIn = false;
  });
  client.connect();
}

// Forget what the previous account saw (sign out, another account).
function resetConsole() {
  for (const id of [...state.forwarded.keys()]) {
    state.forwarded.get(id).node.remove();
    state.forwarded.delete(id);
  }
  for (const id of [...state.questions.keys()]) removeQuestion(id);
  state.prepared = [];
  state.preparedIncoming = null;
  state.markAnsweredAfter.clear();
  state.stream.clear();
  state.nowAnswering = null;
  ui.streamList.replaceChildren();
  ui.streamEmpty.hidden = false;
  ui.problems.replaceChildren();
  renderPrepared();
  updateForYouCount();
  renderNow();
}

function showConsole(on) {
  ui.login.hidden = on;
  ui.console.hidden = !on;
  ui.bar.hidden = !on;
  main.classList.toggle("signed-in", on);
}

function forgetCredentials() {
  state.password = "";
}

function signOut() {
  if (state.client) state.client.close();
  state.client = null;
  forgetCredentials();
  state.loggedIn = false;
  state.everConnected = false;
  resetConsole();
  showConsole(false);
  ui.loginPassword.value = "";
  say(t("signed_out"));
  ui.loginAccount.focus();
}

async function onRegistered() {
  const client = state.client;
  setConnection(t("conn_registered"), false);
  ui.whoami.textContent = t("signed_in_as", { account: state.account });
  // Ask about the conference first: our role decides whether to go on.
  let info;
  try {
    info = await client.request("CONF", [CHANNEL, "INFO"]);
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    // No answer in time: try again on request. (A closed connection is
    // reconnected, and this runs again.)
    if (state.client === client && error.reason === "timeout") {
      showProblem(unansweredText(error, "info"), () => { if (state.client === client && client.registered) onRegistered(); });
    }
    return;
  }
  if (state.client !== client) return;
  if (info.some((msg) => msg.command === "FAIL" && parseReply(msg).code === "NO_SUCH_CONFERENCE")) {
    client.close();
    state.client = null;
    forgetCredentials();
    loginDone(t("no_conference", { conference: CHANNEL }));
    return;
  }
  const values = conferenceInfo(info);
  if (values.role === "visitor") {
    client.close();
    state.client = null;
    forgetCredentials();
    loginDone(t("not_guest", { account: state.account, conference: CHANNEL }));
    return;
  }
  if (values.title) state.title = values.title;
  if (values.state) state.confState = values.state;
  if ("now_answering" in values) state.nowAnswering = values.now_answering;
  updateConfBar();
  client.send("JOIN", [CHANNEL]);
  const first = !state.everConnected;
  state.everConnected = true;
  if (first) {
    restoreForwarded();
    loginDone(null);
    ui.loginPassword.value = "";
    showConsole(true);
    ui.forYou.querySelector("h2").focus();
  }
  refreshQuestions();
  refreshPrepared();
  renderNow();
}

// ------------------------------------------------------------------ events

function isOurs(msg) {
  return fold(msg.nick) === fold(state.client && state.client.nick);
}

function isChannel(name) {
  return fold(name) === fold(CHANNEL);
}

function onMessage(msg) {
  const p = msg.params;
  switch (msg.command) {
    case "903":
      state.loggedIn = true;
      return;
    case "QUEUE": {
      const line = parseQueueItem(msg);
      if (line && isChannel(line.channel)) onItem(line);
      return;
    }
    case "CONF": {
      const line = parseConf(msg);
      if (line && isChannel(line.channel) && line.type === "votes") onVotes(line.id, line.votes);
      return; // QUESTION and INFO lines are read from their request
    }
    case "PREPARED": {
      const line = parsePrepared(msg);
      if (!line || !isChannel(line.channel)) return;
      if (line.type === "item") {
        (state.preparedIncoming ||= []).push({ name: line.name, author: line.author, text: line.text });
      } else {
        state.prepared = state.preparedIncoming || [];
        state.preparedIncoming = null;
        renderPrepared();
      }
      return;
    }
    case "PRIVMSG":
    case "NOTICE":
      if (isChannel(p[0])) onPublished(msg);
      return;
    case "REDACT":
      if (isChannel(p[0])) onRedact(p[1]);
      return;
    case "TOPIC":
      if (isChannel(p[0])) {
        state.title = p[1] || state.title;
        updateConfBar();
      }
      return;
    case "332":
      if (isChannel(p[1])) {
        state.title = p[2] || state.title;
        updateConfBar();
      }
      return;
    case "KICK":
      if (isChannel(p[0]) && fold(p[1]) === fold(state.client.nick)) say(t("kicked", { reason: p[2] || "" }), "error");
      return;
    case "NOTE":
      onNote(msg);
      return;
    case "FAIL":
      onFail(msg);
      return;
    case "ERROR":
      say(p[0] || "", "error");
      return;
    default:
      if (/^[45]\d\d$/.test(msg.command) && !["433", "432"].includes(msg.command)) {
        say(p.slice(1).join(" "), "error");
      }
  }
}

function onNote(msg) {
  const [command, code, ...rest] = msg.params;
  const description = rest[rest.length - 1] || "";
  if (command === "JOIN" && code === "CONFERENCE") {
    if (isChannel(rest[0])) {
      state.confState = rest[1];
      state.role = rest[3];
      updateConfBar();
    }
    return;
  }
  if (command === "PREPARED" && code === "SAVED") {
    say(t("prepared_saved", { name: rest[1] }), "ok");
    refreshPrepared();
    return;
  }
  if (command === "PREPARED" && code === "DELETED") {
    say(t("prepared_deleted", { name: rest[1] }), "ok");
    refreshPrepared();
    return;
  }
  if (command === "*" && code === "RATE_LIMITED") {
    say(t("rate_limited"), "warn");
    return;
  }
  if (command === "NAMES") return;
  say(description, "info");
}

function onFail(msg) {
  const { command, code, context, description, ...reply } = parseReply(msg);
  const key = `fail_${code}`;
  const known = t.has(key) && (code !== "NO_SUCH_ANSWER" || command === "PREPARED");
  // The item's id, else what the context names (a prepared answer).
  say(known ? t(key, { id: context[1] ?? context[0] ?? "" }) : description || code, "error");
  // A forwarded question that can no longer be answered leaves the stage.
  if (["ANSWER", "PREPARED"].includes(command) && ["ALREADY_DECIDED", "REDACTED", "NO_SUCH_ITEM"].includes(code)) {
    removeForwarded(reply.id);
    if (code !== "ALREADY_DECIDED") removeQuestion(reply.id);
  }
}

function onItem(line) {
  const { id, state: itemState, author, submitted, decided, redacted, text } = line;
  if (itemState === "forwarded") {
    const known = state.forwarded.get(id);
    if (known) {
      known.text = text;
      known.textNode.textContent = plainText(text);
    } else {
      addForwarded({ id, author, submitted, text });
      // Live from a moderator (not the replies to our own commands).
      say(t("new_for_you", { author }), "info");
    }
    return;
  }
  const wasForwarded = state.forwarded.has(id);
  removeForwarded(id);
  if (itemState === "published" && redacted) {
    removeQuestion(id);
    say(t("redacted_item", { id }), "warn");
  } else if (itemState === "published" && wasForwarded && fold(decided) !== fold(state.account)) {
    say(t("published_by", { id, who: decided }), "info");
  } else if (itemState === "dropped" && wasForwarded) {
    say(t("dropped_by", { id, who: decided }), "warn");
  }
}

function onVotes(id, votes) {
  const q = state.questions.get(id);
  if (!q) {
    refreshQuestions();
    return;
  }
  q.votes = votes;
  updateQuestion(q);
  sortQuestions();
}

function onPublished(msg) {
  const [, text = ""] = msg.params;
  const tags = msg.tags;
  const { item: itemId, replyTo } = messageItem(msg);
  if (msg.command === "NOTICE" && !msg.source?.includes("!")) {
    // A broadcast from the server.
    const news = parseBroadcast(msg);
    if (news.answering === null) {
      // An empty answering tag: nothing is being answered any more (the
      // conference closed, or the question was deleted).
      state.nowAnswering = null;
      renderNow();
      for (const q of state.questions.values()) updateQuestion(q);
      sortQuestions();
    } else if (news.answering) {
      const id = news.answering;
      const focusWasThere = state.questions.get(id)?.node.contains(document.activeElement);
      state.nowAnswering = id;
      renderNow();
      for (const q of state.questions.values()) updateQuestion(q);
      // The guest's next step is "answered": take the keyboard there.
      if (focusWasThere) ui.nowAnswered.focus();
      sortQuestions();
    } else if (news.answered) {
      const id = news.answered;
      const focusWasThere = ui.now.contains(document.activeElement);
      const q = state.questions.get(id);
      if (q) q.status = "answered";
      if (state.nowAnswering === id) state.nowAnswering = null;
      renderNow();
      for (const other of state.questions.values()) updateQuestion(other);
      if (focusWasThere && ui.nowAnswered.hidden) ui.now.querySelector("h2").focus();
      sortQuestions();
    } else if (news.state) {
      state.confState = news.state;
      updateConfBar();
    }
    addToStream(msg, "notice");
    return;
  }
  if (itemId !== null && !replyTo && msg.command === "PRIVMSG") {
    // A published question.
    if (!state.questions.has(itemId)) {
      addQuestion({ id: itemId, votes: 0, status: "open", msgid: tags.msgid, author: msg.nick, text });
      sortQuestions();
    } else {
      const q = state.questions.get(itemId);
      q.msgid = tags.msgid || q.msgid;
    }
    // It leaves "for you" with its QUEUE ITEM line, which says who published it.
    addToStream(msg, "question");
    return;
  }
  addToStream(msg, replyTo ? "answer" : "message");
  // Our own answer is back: it is published; mark the question answered.
  if (isOurs(msg) && itemId !== null && replyTo && state.markAnsweredAfter.delete(itemId)) {
    markAnswered(itemId);
    say(t("answer_published", { id: itemId }), "ok");
  }
}

function onRedact(msgid) {
  const entry = state.stream.get(msgid);
  if (entry) {
    entry.node.classList.add("redacted");
    entry.textNode.textContent = t("deleted");
  }
  for (const q of state.questions.values()) {
    if (q.msgid === msgid) removeQuestion(q.id);
  }
}

// ------------------------------------------------------------------ conference bar, now answering

function updateConfBar() {
  ui.confTitle.textContent = state.title || CHANNEL;
  const key = `state_${state.confState}`;
  ui.confState.textContent = state.confState ? `(${t.has(key) ? t(key) : state.confState})` : "";
  ui.confState.dataset.state = state.confState || "";
}

function renderNow() {
  const id = state.nowAnswering;
  const q = id !== null ? state.questions.get(id) : null;
  ui.now.classList.toggle("active", id !== null);
  if (id === null) {
    ui.nowText.textContent = t("now_none");
    ui.nowAnswered.hidden = true;
    return;
  }
  ui.nowText.replaceChildren(
    el("span", { class: "now-who", text: q ? `${t("question_from", { id, author: q.author })}: ` : t("question_from", { id, author: "…" }) }),
    q ? el("span", { class: "now-question", text: plainText(q.text) }) : null,
  );
  ui.nowAnswered.hidden = false;
}

function markAnswering(id) {
  state.client?.send("CONF", [CHANNEL, "ANSWERING", String(id)]);
}

function markAnswered(id) {
  if (id === null || id === undefined) return;
  state.client?.send("CONF", [CHANNEL, "ANSWERED", String(id)]);
}

// ------------------------------------------------------------------ composer

// A form to write an answer to question `id`; `send(text)` resolves true
// when the answer was published.
function composer(prefix, id, send) {
  const fieldId = `${prefix}-${id}`;
  const overhead = utf8Length(`ANSWER ${CHANNEL} ${id} :`);
  const textarea = el("textarea", {
    id: fieldId, name: "answer", rows: "3", required: true, "aria-describedby": `${fieldId}-hint ${fieldId}-left`,
  });
  const left = el("span", { id: `${fieldId}-left`, class: "left" });
  const button = el("button", { type: "submit", text: t("publish_answer") });
  const update = () => {
    const remaining = LINE_BYTES - overhead - utf8Length(textarea.value);
    left.textContent = remaining >= 0 ? t("left", { n: remaining }) : t("too_long", { n: -remaining });
    left.classList.toggle("error", remaining < 0);
    return remaining;
  };
  const form = el(
    "form",
    {
      class: "composer",
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        if (button.disabled) return;
        const text = textarea.value.trim();
        if (!text) {
          say(t("write_first"), "error");
          textarea.focus();
          return;
        }
        if (update() < 0) {
          say(t("answer_too_long"), "error");
          textarea.focus();
          return;
        }
        button.disabled = true;
        textarea.readOnly = true;
        button.textContent = t("publishing");
        form.querySelector(".request-error")?.remove();
        let ok = false;
        try {
          ok = await send(text.replace(/\s*\n\s*/g, " "));
        } catch (error) {
          if (!(error instanceof RequestError)) throw error;
          // No answer: the text stays, and Retry sends it again.
          form.append(retryNotice(unansweredText(error, "answer"), () => form.requestSubmit()));
        } finally {
          button.disabled = false;
          textarea.readOnly = false;
          button.textContent = t("publish_answer");
        }
        if (ok) {
          textarea.value = "";
          update();
        }
      },
    },
    el("label", { for: fieldId }, t("your_answer"), el("span", { class: "visually-hidden", text: ` (${t("question_number", { id })})` })),
    textarea,
    el("p", { class: "composer-hint" }, el("span", { id: `${fieldId}-hint`, text: t("shortcut_hint") }), " ", left),
    button,
  );
  textarea.addEventListener("input", update);
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  update();
  return form;
}

// Send ANSWER (or PREPARED PUBLISH) and tell whether it was published;
// rejects with the RequestError when the server did not answer.
async function publishAnswer(command, params, id) {
  const client = state.client;
  if (!client) return false;
  if (id !== null) state.markAnsweredAfter.add(id);
  let replies;
  try {
    replies = await client.request(command, params);
  } catch (error) {
    // Unanswered in time, it may still be published: then it is marked
    // answered when it comes back. Never sent, it will not.
    if (id !== null && error.reason !== "timeout") state.markAnsweredAfter.delete(id);
    throw error;
  }
  const failed = replies.some((m) => m.command === "FAIL" || /^[45]\d\d$/.test(m.command));
  const published = replies.some((m) => m.command === "PRIVMSG" && isOurs(m));
  if (failed || (replies.length && !published)) {
    if (id !== null) state.markAnsweredAfter.delete(id);
    return false;
  }
  return true;
}

// ------------------------------------------------------------------ questions for you

function forwardedKey() {
  return `confchat-guest-forwarded:${fold(CHANNEL)}:${fold(state.account)}`;
}

function saveForwarded() {
  try {
    const items = [...state.forwarded.values()].map(({ id, author, submitted, text }) => ({ id, author, submitted, text }));
    sessionStorage.setItem(forwardedKey(), JSON.stringify(items));
  } catch (_) {
    /* storage unavailable: the list lives in memory only */
  }
}

// The server does not tell a guest who (re)joins which items wait on its
// stage; keep them across a reload of the tab (reconciled with the
// published questions, and dropped on a FAIL when answering).
function restoreForwarded() {
  let items = [];
  try {
    items = JSON.parse(sessionStorage.getItem(forwardedKey()) || "[]");
  } catch (_) {
    items = [];
  }
  for (const item of Array.isArray(items) ? items : []) {
    if (Number.isInteger(item.id) && !state.forwarded.has(item.id)) {
      addForwarded({ id: item.id, author: String(item.author || ""), submitted: Number(item.submitted) || 0, text: String(item.text || "") });
    }
  }
}

function addForwarded(item) {
  const timeNode = el("time", { datetime: new Date(item.submitted * 1000).toISOString(), text: t("asked", { ago: ago(item.submitted) }) });
  item.timeNode = timeNode;
  item.textNode = el("p", { class: "question-text message-text", text: plainText(item.text) });
  const headingId = `fwd-${item.id}-heading`;
  item.node = el(
    "li",
    { class: "card forwarded", "data-item": String(item.id), "aria-labelledby": headingId },
    el("h3", { id: headingId, class: "card-title" },
      el("span", { class: "author", text: plainText(item.author) }),
      el("span", { class: "visually-hidden", text: ` – ${t("question_number", { id: item.id })}` })),
    el("p", { class: "meta" }, el("span", { class: "item-id", text: `#${item.id}` }), " · ", timeNode),
    item.textNode,
    composer("answer-fwd", item.id, (text) => publishAnswer("ANSWER", [CHANNEL, String(item.id), text], item.id)),
  );
  state.forwarded.set(item.id, item);
  ui.forYouList.append(item.node);
  updateForYouCount();
  renderPreparedTargets();
  saveForwarded();
}

function removeForwarded(id) {
  const item = state.forwarded.get(id);
  if (!item) return;
  const hadFocus = item.node.contains(document.activeElement);
  item.node.remove();
  state.forwarded.delete(id);
  updateForYouCount();
  renderPreparedTargets();
  saveForwarded();
  if (hadFocus) ui.forYou.querySelector("h2").focus();
}

function updateForYouCount() {
  const n = state.forwarded.size;
  ui.forYouCount.textContent = n ? `(${n})` : "";
  ui.forYouEmpty.hidden = n > 0;
  ui.forYouList.hidden = n === 0;
}

function refreshAges() {
  for (const item of state.forwarded.values()) item.timeNode.textContent = t("asked", { ago: ago(item.submitted) });
}

// ------------------------------------------------------------------ published questions

async function refreshQuestions() {
  const client = state.client;
  if (!client) return;
  // Every page of the listing (200 questions a page, most voted first), so
  // that a large event's questions past the first page are not lost.
  let replies = [];
  try {
    let from = null;
    do {
      const page = await client.request("CONF", from ? [CHANNEL, "QUESTIONS", String(from)] : [CHANNEL, "QUESTIONS"]);
      replies = replies.concat(page);
      from = nextPage(page, "CONF");
    } while (from && state.client === client);
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    if (state.client === client && error.reason === "timeout") showProblem(unansweredText(error, "load"), refreshQuestions);
    return;
  }
  if (state.client !== client || !replies.length) return;
  const seen = new Set();
  for (const line of replies.map(parseConf)) {
    if (!line || line.type !== "question" || line.id === null) continue;
    const { id, votes, status, msgid, author, text } = line;
    seen.add(id);
    removeForwarded(id);
    const q = state.questions.get(id);
    if (q) {
      Object.assign(q, { votes, status, msgid, author, text });
      q.textNode.textContent = plainText(text);
      updateQuestion(q);
    } else {
      addQuestion({ id, votes, status, msgid, author, text });
    }
  }
  for (const id of [...state.questions.keys()]) if (!seen.has(id)) removeQuestion(id);
  sortQuestions();
  renderNow();
}

function addQuestion(q) {
  const headingId = `q-${q.id}-heading`;
  q.textNode = el("p", { class: "question-text message-text", text: plainText(q.text) });
  q.votesNode = el("span", { class: "votes" });
  q.badge = el("span", { class: "badge" });
  q.answeringButton = el("button", {
    type: "button", class: "secondary", onclick: () => markAnswering(q.id),
  }, t("mark_answering"), el("span", { class: "visually-hidden", text: ` (${t("question_number", { id: q.id })})` }));
  q.answeredButton = el("button", {
    type: "button", class: "secondary", onclick: () => markAnswered(q.id),
  }, t("mark_answered"), el("span", { class: "visually-hidden", text: ` (${t("question_number", { id: q.id })})` }));
  q.details = el(
    "details",
    { class: "write" },
    el("summary", {}, t("write_answer"), el("span", { class: "visually-hidden", text: ` (${t("question_number", { id: q.id })})` })),
    composer("answer-q", q.id, async (text) => {
      const ok = await publishAnswer("ANSWER", [CHANNEL, String(q.id), text], q.id);
      if (ok) q.details.open = false;
      return ok;
    }),
  );
  q.node = el(
    "li",
    { class: "card question", "data-item": String(q.id), "aria-labelledby": headingId },
    el("h3", { id: headingId, class: "card-title" },
      el("span", { class: "author", text: plainText(q.author) }),
      el("span", { class: "visually-hidden", text: ` – ${t("question_number", { id: q.id })}` })),
    el("p", { class: "meta" }, el("span", { class: "item-id", text: `#${q.id}` }), " · ", q.votesNode, " · ", q.badge),
    q.textNode,
    el("div", { class: "actions" }, q.answeringButton, q.answeredButton),
    q.details,
  );
  state.questions.set(q.id, q);
  ui.questionList.append(q.node);
  updateQuestion(q);
  renderPreparedTargets();
}

function updateQuestion(q) {
  q.votesNode.textContent = votesText(q.votes);
  const now = state.nowAnswering === q.id;
  const kind = now ? "now" : q.status === "answered" ? "answered" : "open";
  q.badge.textContent = t(`badge_${kind}`);
  q.badge.className = `badge badge-${kind}`;
  q.node.classList.toggle("is-answered", q.status === "answered");
  q.node.classList.toggle("is-now", now);
  const active = document.activeElement;
  q.answeringButton.hidden = now || q.status === "answered";
  q.answeredButton.hidden = q.status === "answered";
  // A button that disappears must not take the keyboard focus with it.
  if (active && q.node.contains(active) && active.closest("[hidden]")) q.details.querySelector("summary").focus();
  ui.questionsEmpty.hidden = state.questions.size > 0;
}

function removeQuestion(id) {
  const q = state.questions.get(id);
  if (!q) return;
  const hadFocus = q.node.contains(document.activeElement);
  q.node.remove();
  state.questions.delete(id);
  ui.questionsEmpty.hidden = state.questions.size > 0;
  if (state.nowAnswering === id) {
    state.nowAnswering = null;
    renderNow();
  }
  renderPreparedTargets();
  if (hadFocus) ui.questions.querySelector("h2").focus();
}

function compareQuestions(a, b) {
  const rank = (q) => (state.nowAnswering === q.id ? 0 : q.status === "answered" ? 2 : 1);
  return rank(a) - rank(b) || b.votes - a.votes || a.id - b.id;
}

// Most popular first; never while the guest is working in the list (moving
// a node would take the keyboard focus away).
function sortQuestions() {
  ui.questionsEmpty.hidden = state.questions.size > 0;
  if (ui.questionList.contains(document.activeElement)) {
    state.resortPending = true;
    return;
  }
  state.resortPending = false;
  const sorted = [...state.questions.values()].sort(compareQuestions);
  const current = [...ui.questionList.children];
  if (sorted.every((q, i) => current[i] === q.node)) return;
  for (const q of sorted) ui.questionList.append(q.node);
}

// ------------------------------------------------------------------ prepared answers

function refreshPrepared() {
  state.preparedIncoming = null;
  state.client?.send("PREPARED", [CHANNEL, "LIST"]);
}

function updatePreparedLeft() {
  const name = ui.preparedName.value.trim() || "x";
  const remaining = LINE_BYTES - utf8Length(`PREPARED ${CHANNEL} ADD ${name} :`) - utf8Length(ui.preparedText.value);
  ui.preparedLeft.textContent = remaining >= 0 ? t("left", { n: remaining }) : t("too_long", { n: -remaining });
  ui.preparedLeft.classList.toggle("error", remaining < 0);
  return remaining;
}

function onPreparedSubmit(event) {
  event.preventDefault();
  const name = ui.preparedName.value.trim();
  const text = ui.preparedText.value.trim().replace(/\s*\n\s*/g, " ");
  if (!NAME_PATTERN.test(name)) {
    ui.preparedName.setAttribute("aria-invalid", "true");
    say(t("name_invalid"), "error");
    ui.preparedName.focus();
    return;
  }
  ui.preparedName.removeAttribute("aria-invalid");
  if (!text) {
    say(t("write_first"), "error");
    ui.preparedText.focus();
    return;
  }
  if (updatePreparedLeft() < 0) {
    say(t("answer_too_long"), "error");
    ui.preparedText.focus();
    return;
  }
  state.client?.send("PREPARED", [CHANNEL, "ADD", name, text]);
  ui.preparedName.value = "";
  ui.preparedText.value = "";
  updatePreparedLeft();
}

function renderPrepared() {
  const focusedName = document.activeElement?.closest?.("[data-prepared]")?.dataset.prepared;
  const chosen = new Map([...ui.preparedList.querySelectorAll("[data-prepared]")].map((node) => [node.dataset.prepared, node.querySelector("select").value]));
  ui.preparedList.replaceChildren();
  state.prepared.forEach((entry, index) => {
    const selectId = `prepared-target-${index}`;
    const headingId = `prepared-${index}-heading`;
    const select = el("select", { id: selectId, class: "prepared-target" });
    const publishButton = el("button", { type: "button", class: "publish" }, t("publish"), el("span", { class: "visually-hidden", text: ` ${entry.name}` }));
    const deleteButton = el("button", { type: "button", class: "secondary delete" }, t("delete"), el("span", { class: "visually-hidden", text: ` ${entry.name}` }));
    const confirm = el("div", { class: "confirm", hidden: true });
    const yes = el("button", { type: "button", class: "danger", text: t("yes_delete") });
    const no = el("button", { type: "button", class: "secondary", text: t("cancel") });
    confirm.append(el("p", { text: t("confirm_delete", { name: entry.name }) }), yes, " ", no);
    deleteButton.addEventListener("click", () => {
      confirm.hidden = false;
      yes.focus();
    });
    no.addEventListener("click", () => {
      confirm.hidden = true;
      deleteButton.focus();
    });
    yes.addEventListener("click", () => {
      confirm.hidden = true;
      ui.prepared.querySelector("h2").focus();
      state.client?.send("PREPARED", [CHANNEL, "DEL", entry.name]);
    });
    publishButton.addEventListener("click", () => {
      publishButton.disabled = true;
      publishPrepared(entry.name, select.value ? Number(select.value) : null).finally(() => { publishButton.disabled = false; });
    });
    const node = el(
      "li",
      { class: "card prepared", "data-prepared": entry.name, "aria-labelledby": headingId },
      el("h3", { id: headingId, class: "card-title", text: entry.name }),
      el("p", { class: "message-text prepared-text", text: plainText(entry.text) }),
      el("p", { class: "meta", text: t("by", { author: entry.author }) }),
      el("div", { class: "field" }, el("label", { for: selectId, text: t("reply_to") }), select),
      el("div", { class: "actions" }, publishButton, deleteButton),
      confirm,
    );
    ui.preparedList.append(node);
    if (focusedName === entry.name) publishButton.focus();
  });
  ui.preparedEmpty.hidden = state.prepared.length > 0;
  ui.preparedList.hidden = state.prepared.length === 0;
  renderPreparedTargets();
  for (const node of ui.preparedList.querySelectorAll("[data-prepared]")) {
    const select = node.querySelector("select");
    const value = chosen.get(node.dataset.prepared);
    if (value && [...select.options].some((o) => o.value === value)) select.value = value;
  }
}

async function publishPrepared(name, target) {
  const params = [CHANNEL, "PUBLISH", name, ...(target !== null ? [String(target)] : [])];
  let ok = false;
  try {
    ok = await publishAnswer("PREPARED", params, target);
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    showProblem(unansweredText(error, "answer"), () => publishPrepared(name, target));
  }
  if (ok) {
    say(t("prepared_published", { name }), "ok");
    ui.prepared.querySelector("h2").focus();
  }
  refreshPrepared();
}

// The "in reply to" choices: the questions for the guest, then the open
// published questions.
function renderPreparedTargets() {
  if (!ui.preparedList) return;
  const targets = [
    ...[...state.forwarded.values()].map((f) => ({ id: f.id, label: `#${f.id} (${t("for_you_short")}) ${f.author}: ${shorten(f.text)}` })),
    ...[...state.questions.values()]
      .filter((q) => q.status !== "answered")
      .sort(compareQuestions)
      .map((q) => ({ id: q.id, label: `#${q.id} ${q.author}: ${shorten(q.text)} – ${votesText(q.votes)}` })),
  ];
  for (const select of ui.preparedList.querySelectorAll("select.prepared-target")) {
    const chosen = select.value;
    select.replaceChildren(
      el("option", { value: "", text: t("reply_none") }),
      ...targets.map((target) => el("option", { value: String(target.id), text: target.label })),
    );
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  }
}

// ------------------------------------------------------------------ published stream

function addToStream(msg, kind) {
  const msgid = msg.tags.msgid;
  if (msgid && state.stream.has(msgid)) return;
  const [, text = ""] = msg.params;
  const when = messageTime(msg);
  const ours = isOurs(msg);
  const textNode = el("p", { class: "message-text", text: plainText(text) });
  const replies = kind === "question" ? el("ol", { class: "replies" }) : null;
  let label = null;
  if (kind === "question") label = t("question");
  else if (kind === "answer") label = t("answer");
  const node = el(
    "li",
    { class: `stream-entry stream-${kind}${ours ? " ours" : ""}` },
    el("p", { class: "meta" },
      el("time", { datetime: when.toISOString(), text: timeFormat.format(when) }),
      kind === "notice" ? null : " ",
      kind === "notice" ? null : el("span", { class: "author", text: ours ? t("you") : plainText(msg.nick || "") }),
      label ? el("span", { class: "kind", text: ` · ${label}` }) : null),
    textNode,
    replies,
  );
  const entry = { node, textNode, replies };
  if (msgid) state.stream.set(msgid, entry);
  const parent = kind === "answer" ? state.stream.get(msg.tags["+draft/reply"]) : null;
  const stick = ui.streamBox.scrollHeight - ui.streamBox.scrollTop - ui.streamBox.clientHeight < 40;
  if (parent && parent.replies) {
    parent.replies.append(node);
  } else {
    if (kind === "answer") node.querySelector(".meta").append(el("span", { class: "kind", text: ` (${t("reply_earlier")})` }));
    ui.streamList.append(node);
  }
  while (ui.streamList.children.length > STREAM_MAX) {
    const old = ui.streamList.firstElementChild;
    for (const [key, value] of state.stream) if (old === value.node || old.contains(value.node)) state.stream.delete(key);
    old.remove();
  }
  ui.streamEmpty.hidden = true;
  if (stick) ui.streamBox.scrollTop = ui.streamBox.scrollHeight;
}

// ------------------------------------------------------------------ start

build();
setInterval(refreshAges, 30000);
