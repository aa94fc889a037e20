// The guest console: the mayor (the conference's guest) signs in with SASL
// over the WebSocket, sees the questions the moderators forwarded, answers
// them (threaded under the question), picks popular published questions,
// uses prepared answers, and follows what everyone sees.
//
// Everything user-supplied goes into the page as text only (el() and
// textContent); no inline scripts or styles (the page has a strict CSP).

import { IrcClient, el, pageSettings, messageTime, plainText } from "./irc.js";

const WORDS = {
  en: {
    sign_in_heading: "Sign in",
    sign_in_intro: "Sign in with the guest account the organisers gave you.",
    account: "Account",
    password: "Password",
    sign_in: "Sign in",
    signing_in: "Signing in…",
    need_credentials: "Enter your account name and your password.",
    login_failed: "Wrong account name or password. Please try again.",
    login_aborted: "Signing in failed: {reason}",
    login_unavailable: "This server does not offer signing in.",
    not_guest: "The account {account} is not a guest of {conference}.",
    no_conference: "{conference} is not a conference on this server.",
    no_conference_set: "No conference was given in the address.",
    nick_taken: "The name {nick} is already connected; connecting as {other}.",
    cannot_connect: "Could not reach the chat server. Retrying…",
    signed_in_as: "Signed in as {account}",
    conference: "Conference",
    state_scheduled: "scheduled",
    state_open: "open for questions",
    state_live: "live",
    state_closed: "closed",
    conn_connecting: "Connecting…",
    conn_registered: "online",
    conn_reconnecting: "Connection lost. Reconnecting in {s} s…",
    conn_failed: "Not connected",
    conn_closed: "Disconnected",
    sign_out: "Sign out",
    signed_out: "You are signed out.",
    status_label: "Messages from the chat server",
    now_heading: "Now answering",
    now_none: "No question is marked as being answered.",
    for_you_heading: "Questions for you",
    for_you_intro: "The moderators chose these for you. A written answer is published right under the question.",
    for_you_empty: "No question is waiting for you right now.",
    published_heading: "Published questions",
    published_intro: "Open questions first, most votes first. Say which one you are answering, then mark it answered.",
    published_empty: "No question has been published yet.",
    prepared_heading: "Prepared answers",
    prepared_intro: "Answers written ahead. Publishing one removes it from this list.",
    prepared_empty: "No prepared answer yet.",
    stream_heading: "Published stream",
    stream_intro: "What everyone sees, newest at the bottom.",
    stream_empty: "Nothing has been published yet.",
    refresh: "Refresh",
    question_number: "question {id}",
    question_from: "Question {id} from {author}",
    asked: "asked {ago}",
    just_now: "just now",
    votes_one: "{n} vote",
    votes_other: "{n} votes",
    badge_open: "Open",
    badge_answered: "Answered",
    badge_now: "Now answering",
    mark_answering: "I am answering this now",
    mark_answered: "Mark as answered",
    write_answer: "Write an answer",
    your_answer: "Your answer",
    publish_answer: "Publish answer",
    publishing: "Publishing…",
    shortcut_hint: "Ctrl+Enter publishes.",
    left: "{n} characters left",
    too_long: "{n} characters too many",
    write_first: "Write your answer first.",
    answer_too_long: "The answer is too long; please shorten it.",
    name: "Name",
    name_hint: "One word, no spaces, for example tram.",
    name_invalid: "The name must be one word without spaces.",
    text: "Text",
    save_prepared: "Save prepared answer",
    new_prepared: "New prepared answer",
    reply_to: "In reply to",
    reply_none: "No question (a plain message)",
    for_you_short: "for you",
    publish: "Publish",
    delete: "Delete",
    confirm_delete: "Delete the prepared answer “{name}”?",
    yes_delete: "Yes, delete",
    cancel: "Cancel",
    by: "by {author}",
    you: "You",
    question: "Question",
    answer: "Answer",
    reply_earlier: "in reply to an earlier question",
    deleted: "(deleted by the moderators)",
    error: "Error:",
    // notes from events
    new_for_you: "New question for you from {author}.",
    published_by: "Question {id} was published by {who}.",
    dropped_by: "Question {id} was withdrawn by {who}.",
    redacted_item: "Question {id} was deleted by the moderators.",
    answer_published: "Your answer to question {id} is published.",
    message_published: "Your message is published.",
    prepared_saved: "Prepared answer {name} saved.",
    prepared_deleted: "Prepared answer {name} deleted.",
    prepared_published: "Prepared answer {name} published.",
    now_answering_note: "Now answering question {id}.",
    answered_note: "Question {id} is marked as answered.",
    kicked: "You were removed from the conference: {reason}",
    rate_limited: "You are sending too fast; your messages are delayed.",
    // FAIL codes
    fail_ALREADY_DECIDED: "Question {id} was already decided by the moderators.",
    fail_CLAIMED: "A moderator is handling question {id}; try again in a moment.",
    fail_REDACTED: "Question {id} was deleted by the moderators.",
    fail_NO_SUCH_ITEM: "There is no question {id}.",
    fail_NOT_PUBLISHED: "Question {id} is not published (yet).",
    fail_NOT_JOINED: "You are not in the conference at the moment; please wait for the connection.",
    fail_NO_SUCH_ANSWER: "There is no prepared answer named {id}.",
    fail_NEED_ROLE: "Your account may not do this in this conference.",
  },
  fr: {
    sign_in_heading: "Connexion",
    sign_in_intro: "Connectez-vous avec le compte d'invité fourni par les organisateurs.",
    account: "Compte",
    password: "Mot de passe",
    sign_in: "Se connecter",
    signing_in: "Connexion…",
    need_credentials: "Saisissez votre nom de compte et votre mot de passe.",
    login_failed: "Nom de compte ou mot de passe incorrect. Veuillez réessayer.",
    login_aborted: "La connexion a échoué : {reason}",
    login_unavailable: "Ce serveur ne permet pas de se connecter à un compte.",
    not_guest: "Le compte {account} n'est pas invité de {conference}.",
    no_conference: "{conference} n'est pas une conférence de ce serveur.",
    no_conference_set: "Aucune conférence n'est indiquée dans l'adresse.",
    nick_taken: "Le nom {nick} est déjà connecté ; connexion sous le nom {other}.",
    cannot_connect: "Le serveur de chat est injoignable. Nouvel essai…",
    signed_in_as: "Connecté en tant que {account}",
    conference: "Conférence",
    state_scheduled: "programmée",
    state_open: "ouverte aux questions",
    state_live: "en direct",
    state_closed: "terminée",
    conn_connecting: "Connexion…",
    conn_registered: "en ligne",
    conn_reconnecting: "Connexion perdue. Reconnexion dans {s} s…",
    conn_failed: "Non connecté",
    conn_closed: "Déconnecté",
    sign_out: "Se déconnecter",
    signed_out: "Vous êtes déconnecté.",
    status_label: "Messages du serveur de chat",
    now_heading: "Réponse en cours",
    now_none: "Aucune question n'est indiquée comme en cours de réponse.",
    for_you_heading: "Questions pour vous",
    for_you_intro: "Les modérateurs les ont choisies pour vous. Une réponse écrite est publiée juste sous la question.",
    for_you_empty: "Aucune question ne vous attend pour le moment.",
    published_heading: "Questions publiées",
    published_intro: "Questions ouvertes d'abord, les plus votées en tête. Indiquez celle à laquelle vous répondez, puis marquez-la comme répondue.",
    published_empty: "Aucune question n'a encore été publiée.",
    prepared_heading: "Réponses préparées",
    prepared_intro: "Des réponses écrites à l'avance. Une réponse publiée disparaît de cette liste.",
    prepared_empty: "Aucune réponse préparée pour l'instant.",
    stream_heading: "Fil publié",
    stream_intro: "Ce que tout le monde voit, le plus récent en bas.",
    stream_empty: "Rien n'a encore été publié.",
    refresh: "Actualiser",
    question_number: "question {id}",
    question_from: "Question {id} de {author}",
    asked: "posée {ago}",
    just_now: "à l'instant",
    votes_one: "{n} vote",
    votes_other: "{n} votes",
    badge_open: "Ouverte",
    badge_answered: "Répondue",
    badge_now: "Réponse en cours",
    mark_answering: "J'y réponds maintenant",
    mark_answered: "Marquer comme répondue",
    write_answer: "Écrire une réponse",
    your_answer: "Votre réponse",
    publish_answer: "Publier la réponse",
    publishing: "Publication…",
    shortcut_hint: "Ctrl+Entrée publie.",
    left: "{n} caractères restants",
    too_long: "{n} caractères de trop",
    write_first: "Écrivez d'abord votre réponse.",
    answer_too_long: "La réponse est trop longue ; raccourcissez-la.",
    name: "Nom",
    name_hint: "Un seul mot, sans espace, par exemple tram.",
    name_invalid: "Le nom doit être un seul mot, sans espace.",
    text: "Texte",
    save_prepared: "Enregistrer la réponse préparée",
    new_prepared: "Nouvelle réponse préparée",
    reply_to: "En réponse à",
    reply_none: "Aucune question (simple message)",
    for_you_short: "pour vous",
    publish: "Publier",
    delete: "Supprimer",
    confirm_delete: "Supprimer la réponse préparée « {name} » ?",
    yes_delete: "Oui, supprimer",
    cancel: "Annuler",
    by: "par {author}",
    you: "Vous",
    question: "Question",
    answer: "Réponse",
    reply_earlier: "en réponse à une question plus ancienne",
    deleted: "(supprimé par les modérateurs)",
    error: "Erreur :",
    new_for_you: "Nouvelle question pour vous de {author}.",
    published_by: "La question {id} a été publiée par {who}.",
    dropped_by: "La question {id} a été retirée par {who}.",
    redacted_item: "La question {id} a été supprimée par les modérateurs.",
    answer_published: "Votre réponse à la question {id} est publiée.",
    message_published: "Votre message est publié.",
    prepared_saved: "Réponse préparée {name} enregistrée.",
    prepared_deleted: "Réponse préparée {name} supprimée.",
    prepared_published: "Réponse préparée {name} publiée.",
    now_answering_note: "Réponse en cours à la question {id}.",
    answered_note: "La question {id} est marquée comme répondue.",
    kicked: "Vous avez été retiré de la conférence : {reason}",
    rate_limited: "Vous envoyez trop vite ; vos messages sont retardés.",
    fail_ALREADY_DECIDED: "Les modérateurs ont déjà traité la question {id}.",
    fail_CLAIMED: "Un modérateur s'occupe de la question {id} ; réessayez dans un instant.",
    fail_REDACTED: "La question {id} a été supprimée par les modérateurs.",
    fail_NO_SUCH_ITEM: "Il n'y a pas de question {id}.",
    fail_NOT_PUBLISHED: "La question {id} n'est pas (encore) publiée.",
    fail_NOT_JOINED: "Vous n'êtes pas dans la conférence pour le moment ; attendez la connexion.",
    fail_NO_SUCH_ANSWER: "Il n'y a pas de réponse préparée nommée {id}.",
    fail_NEED_ROLE: "Votre compte ne peut pas faire cela dans cette conférence.",
  },
};

const settings = pageSettings();
const LANG = settings.language === "fr" ? "fr" : "en";
const CHANNEL = settings.conference || "";
const LINE_BYTES = 510; // 512 with CRLF
const NAME_PATTERN = /^[^\s:,]{1,40}$/;
const STREAM_MAX = 300;

function t(key, vars = {}) {
  const text = (WORDS[LANG] && WORDS[LANG][key]) ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : ""));
}

function votesText(n) {
  return t(Number(n) === 1 ? "votes_one" : "votes_other", { n });
}

// IRC case mapping (rfc1459).
function fold(text) {
  return String(text || "").toLowerCase().replace(/[[\]\\~]/g, (c) => ({ "[": "{", "]": "}", "\\": "|", "~": "^" })[c]);
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
  buildConsole();
  main.append(ui.bar, ui.status, buildLogin(), ui.console);
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
  const info = await client.request("CONF", [CHANNEL, "INFO"]);
  if (state.client !== client) return;
  const values = {};
  for (const msg of info) {
    if (msg.command === "FAIL" && msg.params[1] === "NO_SUCH_CONFERENCE") {
      client.close();
      state.client = null;
      forgetCredentials();
      loginDone(t("no_conference", { conference: CHANNEL }));
      return;
    }
    if (msg.command === "CONF" && msg.params[1] === "INFO") values[msg.params[2]] = msg.params[3] ?? "";
  }
  if (values.role === "visitor") {
    client.close();
    state.client = null;
    forgetCredentials();
    loginDone(t("not_guest", { account: state.account, conference: CHANNEL }));
    return;
  }
  if (values.title) state.title = values.title;
  if (values.state) state.confState = values.state;
  if ("now_answering" in values) state.nowAnswering = values.now_answering ? Number(values.now_answering) : null;
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
    case "QUEUE":
      if (isChannel(p[0]) && p[1] === "ITEM") onItem(msg);
      return;
    case "CONF":
      if (!isChannel(p[0])) return;
      if (p[1] === "VOTES") onVotes(Number(p[2]), Number(p[3]));
      return; // QUESTION and INFO lines are read from their request
    case "PREPARED":
      if (!isChannel(p[0])) return;
      if (p[1] === "ITEM") {
        (state.preparedIncoming ||= []).push({ name: p[2], author: p[3], text: p[4] ?? "" });
      } else if (p[1] === "END") {
        state.prepared = state.preparedIncoming || [];
        state.preparedIncoming = null;
        renderPrepared();
      }
      return;
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
  const [command, code, ...rest] = msg.params;
  const description = rest[rest.length - 1] || "";
  const context = rest.slice(0, -1);
  const id = context[1] ?? context[0] ?? "";
  const key = `fail_${code}`;
  const known = key in WORDS.en && (code !== "NO_SUCH_ANSWER" || command === "PREPARED");
  say(known ? t(key, { id }) : description || code, "error");
  // A forwarded question that can no longer be answered leaves the stage.
  if (["ANSWER", "PREPARED"].includes(command) && ["ALREADY_DECIDED", "REDACTED", "NO_SUCH_ITEM"].includes(code)) {
    removeForwarded(Number(context[1]));
    if (code !== "ALREADY_DECIDED") removeQuestion(Number(context[1]));
  }
}

// QUEUE <chan> ITEM <id> <state> <position> <author> <submitted> <claimed> <decided> <flags> :<text>
function onItem(msg) {
  const [, , idText, itemState, , author, submitted, , decided, flags, text = ""] = msg.params;
  const id = Number(idText);
  const redacted = (flags || "").split(",").includes("redacted");
  if (itemState === "forwarded") {
    const known = state.forwarded.get(id);
    if (known) {
      known.text = text;
      known.textNode.textContent = plainText(text);
    } else {
      addForwarded({ id, author, submitted: Number(submitted), text });
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
  const itemId = tags["confchat/item"] ? Number(tags["confchat/item"]) : null;
  const replyTo = tags["+draft/reply"] || null;
  if (msg.command === "NOTICE" && !msg.source?.includes("!")) {
    // A broadcast from the server.
    if (tags["confchat/answering"]) {
      const id = Number(tags["confchat/answering"]);
      const focusWasThere = state.questions.get(id)?.node.contains(document.activeElement);
      state.nowAnswering = id;
      renderNow();
      for (const q of state.questions.values()) updateQuestion(q);
      // The guest's next step is "answered": take the keyboard there.
      if (focusWasThere) ui.nowAnswered.focus();
      sortQuestions();
    } else if (tags["confchat/answered"]) {
      const id = Number(tags["confchat/answered"]);
      const focusWasThere = ui.now.contains(document.activeElement);
      const q = state.questions.get(id);
      if (q) q.status = "answered";
      if (state.nowAnswering === id) state.nowAnswering = null;
      renderNow();
      for (const other of state.questions.values()) updateQuestion(other);
      if (focusWasThere && ui.nowAnswered.hidden) ui.now.querySelector("h2").focus();
      sortQuestions();
    } else if (tags["confchat/state"]) {
      state.confState = tags["confchat/state"];
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
  ui.confState.textContent = state.confState ? `(${key in WORDS.en ? t(key) : state.confState})` : "";
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
        let ok = false;
        try {
          ok = await send(text.replace(/\s*\n\s*/g, " "));
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

// Send ANSWER (or PREPARED PUBLISH) and tell whether it was published.
async function publishAnswer(command, params, id) {
  const client = state.client;
  if (!client) return false;
  if (id !== null) state.markAnsweredAfter.add(id);
  const replies = await client.request(command, params);
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
  const replies = await client.request("CONF", [CHANNEL, "QUESTIONS"]);
  if (state.client !== client || !replies.length) return;
  const seen = new Set();
  for (const msg of replies) {
    if (msg.command !== "CONF" || msg.params[1] !== "QUESTION") continue;
    // CONF <chan> QUESTION <item> <votes> open|answered <msgid> <author> :<text>
    const [, , idText, votes, status, msgid, author, text = ""] = msg.params;
    const id = Number(idText);
    seen.add(id);
    removeForwarded(id);
    const q = state.questions.get(id);
    if (q) {
      Object.assign(q, { votes: Number(votes), status, msgid, author, text });
      q.textNode.textContent = plainText(text);
      updateQuestion(q);
    } else {
      addQuestion({ id, votes: Number(votes), status, msgid, author, text });
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
    publishButton.addEventListener("click", async () => {
      const target = select.value ? Number(select.value) : null;
      const params = [CHANNEL, "PUBLISH", entry.name, ...(target !== null ? [String(target)] : [])];
      publishButton.disabled = true;
      const ok = await publishAnswer("PREPARED", params, target);
      publishButton.disabled = false;
      if (ok) {
        say(t("prepared_published", { name: entry.name }), "ok");
        ui.prepared.querySelector("h2").focus();
      }
      refreshPrepared();
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
