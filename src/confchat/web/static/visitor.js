// The visitor page: the city's link opens it, the visitor picks a nickname
// and the conference's chat opens. Published questions with their answers
// threaded under them, the visitor's own questions while they wait for the
// moderators, votes, the conference's state and schedule.
//
// Every piece of text from the server or the user is inserted as text (el(),
// textContent), never as HTML.

import { IrcClient, el, messageTime, pageSettings, plainText } from "./irc.js";

const settings = pageSettings();
const LANG = settings.language === "fr" ? "fr" : "en";
const CONFERENCE = settings.conference || "";
const MAX_CHARS = 400; // what the server relays comfortably in one line
const NICK_MAX = 30;
const STORAGE_KEY = "confchat.nick";
const INFO_REFRESH_MS = 60000; // audience count, state; doubles as a liveness check
const LIVENESS_TIMEOUT_MS = 25000;

// ------------------------------------------------------------------ words

const WORDS = {
  en: {
    joinTitle: "Join the conversation",
    joinIntro: "Choose a nickname, then ask your questions. The moderators read every question before it is published.",
    nickLabel: "Your nickname",
    nickHint: "Shown next to your questions. Up to 30 characters: letters, digits, - or _, without spaces.",
    join: "Join the chat",
    connecting: "Connecting…",
    nickEmpty: "Please enter a nickname.",
    nickTooLong: "A nickname has at most 30 characters.",
    nickSpaces: "A nickname cannot contain spaces.",
    nickInvalid: (n) => `“${n}” cannot be used as a nickname. Use letters, digits, - or _, starting with a letter.`,
    nickTaken: (n) => `The nickname “${n}” is already taken. Please choose another one.`,
    nickReserved: (n) => `The nickname “${n}” is reserved. Please choose another one.`,
    noConference: "No conference is set up on this server yet.",
    cannotReach: (s) => `The chat server cannot be reached. Trying again in ${s} s…`,
    connected: (n) => `Connected as ${n}`,
    reconnecting: (s) => `Connection lost. Reconnecting in ${s} s…`,
    reconnectingNow: "Reconnecting…",
    disconnected: "Disconnected",
    leave: "Leave",
    left: "You left the chat.",
    conference: "Conference",
    states: { scheduled: "Scheduled", open: "Open for questions", live: "Live", closed: "Closed" },
    stateLabel: "Status",
    modes: {
      moderated: "The moderators read every question before it is published.",
      open: "Messages are published at once.",
      readonly: "Only the organisers can write at the moment.",
    },
    schedule: "Schedule",
    opens: "Questions open",
    starts: "Starts",
    ends: "Ends",
    slowMode: (n) => `Slow mode: one message every ${n} seconds.`,
    audience: (n) => (n === 1 ? "1 person in the audience" : `${n} people in the audience`),
    streamTitle: "Questions and answers",
    streamLabel: "Published questions and answers",
    streamEmpty: "Nothing has been published yet. Questions appear here once the moderators publish them.",
    nowAnswering: "Now answering",
    nowAnsweringBanner: (who, text) => `Now answering: ${who}: ${text}`,
    answered: "Answered",
    question: "Question",
    answer: "Answer",
    answersLabel: (who) => `Answers to the question from ${who}`,
    roles: { moderator: "Moderator", guest: "Guest", staff: "Organiser" },
    you: "you",
    yourQuestion: "Your question",
    replyTo: "In reply to an earlier question",
    deletedQuestion: "This question was deleted by the moderators.",
    vote: "Vote",
    forQuestionOf: (who) => ` for the question from ${who}`,
    voted: "Voted",
    votes: (n) => (n === 1 ? "1 vote" : `${n} votes`),
    voteCounted: "Your vote was counted.",
    alreadyVoted: "You already voted for this question.",
    cannotVote: "This question can no longer be voted for.",
    askTitle: "Ask a question",
    askLabel: "Your question",
    askHint: "Enter sends, Shift+Enter adds a new line.",
    send: "Send",
    counter: (n) => `${n} / ${MAX_CHARS} characters`,
    tooLong: (n) => `Your question is ${n} characters too long.`,
    emptyQuestion: "Write your question first.",
    notConnected: "You are not connected at the moment: you can send your question once the connection is back.",
    cannotSendNow: "You are not connected at the moment. Please wait a moment and send again.",
    writingClosed: {
      scheduled: "The conference has not opened yet: questions cannot be sent for now.",
      closed: "The conference is closed: questions can no longer be sent.",
      readonly: "Only the organisers can write at the moment.",
    },
    mineTitle: "Your questions",
    mineEmpty: "You have not asked anything yet.",
    mineLabel: "Your questions and their status",
    pending: "Awaiting moderation",
    published: "Published",
    declined: "Not published",
    reason: (r) => `Reason: ${r}`,
    seeIt: "See it in the stream",
    held: "Your question was sent. It will appear once a moderator publishes it.",
    publishedNote: "Your question was published.",
    declinedNote: "Your question was not published.",
    fails: {
      NOT_OPEN: "The conference is not open yet: questions cannot be sent for now.",
      CLOSED: "The conference is closed: questions can no longer be sent.",
      READ_ONLY: "Only the organisers can write at the moment.",
      MUTED: "You cannot send messages in this conference.",
      BANNED: "You are banned from writing in this conference.",
      NOT_JOINED: "You are not in the conference any more. Please reload the page.",
    },
    slowWait: (s) => `Slow mode: please wait ${s} seconds before sending your next message.`,
    rateLimited: "You are sending too fast; please slow down.",
    banned: "You are banned from this conference.",
    kicked: "You were removed from the conference by the moderators.",
    joinRefused: "You could not join the conference.",
    noSuchConference: "This conference does not exist. Please check the link you followed.",
    serverError: (t) => `The server closed the connection: ${t}`,
    system: {
      state: { scheduled: "The conference is scheduled.", open: "The conference is open for questions.", live: "The conference is live.", closed: "The conference is closed." },
      mode: { moderated: "Questions are now moderated.", open: "Messages are now published at once.", readonly: "Only the organisers can write now." },
      slowOn: (n) => `Slow mode is on: one message every ${n} seconds.`,
      slowOff: "Slow mode is off.",
      deleted: "A message was deleted by the moderators.",
    },
    colon: ":",
  },
  fr: {
    joinTitle: "Rejoindre la discussion",
    joinIntro: "Choisissez un pseudonyme, puis posez vos questions. L’équipe de modération lit chaque question avant de la publier.",
    nickLabel: "Votre pseudonyme",
    nickHint: "Affiché à côté de vos questions. 30 caractères au plus : lettres, chiffres, - ou _, sans espace.",
    join: "Rejoindre le chat",
    connecting: "Connexion…",
    nickEmpty: "Veuillez saisir un pseudonyme.",
    nickTooLong: "Un pseudonyme compte 30 caractères au plus.",
    nickSpaces: "Un pseudonyme ne peut pas contenir d’espace.",
    nickInvalid: (n) => `« ${n} » ne peut pas servir de pseudonyme. Utilisez des lettres, des chiffres, - ou _, en commençant par une lettre.`,
    nickTaken: (n) => `Le pseudonyme « ${n} » est déjà pris. Veuillez en choisir un autre.`,
    nickReserved: (n) => `Le pseudonyme « ${n} » est réservé. Veuillez en choisir un autre.`,
    noConference: "Aucune conférence n’est encore prévue sur ce serveur.",
    cannotReach: (s) => `Le serveur du chat est injoignable. Nouvel essai dans ${s} s…`,
    connected: (n) => `Connecté·e en tant que ${n}`,
    reconnecting: (s) => `Connexion perdue. Reconnexion dans ${s} s…`,
    reconnectingNow: "Reconnexion…",
    disconnected: "Déconnecté·e",
    leave: "Quitter",
    left: "Vous avez quitté le chat.",
    conference: "Conférence",
    states: { scheduled: "Programmée", open: "Ouverte aux questions", live: "En direct", closed: "Terminée" },
    stateLabel: "État",
    modes: {
      moderated: "L’équipe de modération lit chaque question avant de la publier.",
      open: "Les messages sont publiés immédiatement.",
      readonly: "Seuls les organisateurs peuvent écrire pour le moment.",
    },
    schedule: "Programme",
    opens: "Ouverture des questions",
    starts: "Début",
    ends: "Fin",
    slowMode: (n) => `Mode lent : un message toutes les ${n} secondes.`,
    audience: (n) => (n < 2 ? `${n} personne dans le public` : `${n} personnes dans le public`),
    streamTitle: "Questions et réponses",
    streamLabel: "Questions et réponses publiées",
    streamEmpty: "Rien n’a encore été publié. Les questions apparaissent ici dès que l’équipe de modération les publie.",
    nowAnswering: "Réponse en cours",
    nowAnsweringBanner: (who, text) => `Réponse en cours : ${who} : ${text}`,
    answered: "Répondu",
    question: "Question",
    answer: "Réponse",
    answersLabel: (who) => `Réponses à la question de ${who}`,
    roles: { moderator: "Modération", guest: "Invité·e", staff: "Organisation" },
    you: "vous",
    yourQuestion: "Votre question",
    replyTo: "En réponse à une question précédente",
    deletedQuestion: "Cette question a été supprimée par l’équipe de modération.",
    vote: "Voter",
    forQuestionOf: (who) => ` pour la question de ${who}`,
    voted: "Voté",
    votes: (n) => (n < 2 ? `${n} vote` : `${n} votes`),
    voteCounted: "Votre vote a été pris en compte.",
    alreadyVoted: "Vous avez déjà voté pour cette question.",
    cannotVote: "On ne peut plus voter pour cette question.",
    askTitle: "Poser une question",
    askLabel: "Votre question",
    askHint: "Entrée envoie, Maj+Entrée ajoute une ligne.",
    send: "Envoyer",
    counter: (n) => `${n} / ${MAX_CHARS} caractères`,
    tooLong: (n) => `Votre question dépasse la limite de ${n} caractères.`,
    emptyQuestion: "Écrivez d’abord votre question.",
    notConnected: "Vous n’êtes pas connecté·e pour le moment : vous pourrez envoyer votre question au retour de la connexion.",
    cannotSendNow: "Vous n’êtes pas connecté·e pour le moment. Patientez un instant, puis renvoyez.",
    writingClosed: {
      scheduled: "La conférence n’est pas encore ouverte : les questions ne peuvent pas encore être envoyées.",
      closed: "La conférence est terminée : les questions ne peuvent plus être envoyées.",
      readonly: "Seuls les organisateurs peuvent écrire pour le moment.",
    },
    mineTitle: "Vos questions",
    mineEmpty: "Vous n’avez encore rien demandé.",
    mineLabel: "Vos questions et leur état",
    pending: "En attente de modération",
    published: "Publiée",
    declined: "Non publiée",
    reason: (r) => `Motif : ${r}`,
    seeIt: "La voir dans le fil",
    held: "Votre question a été envoyée. Elle apparaîtra dès qu’un modérateur l’aura publiée.",
    publishedNote: "Votre question a été publiée.",
    declinedNote: "Votre question n’a pas été publiée.",
    fails: {
      NOT_OPEN: "La conférence n’est pas encore ouverte : les questions ne peuvent pas encore être envoyées.",
      CLOSED: "La conférence est terminée : les questions ne peuvent plus être envoyées.",
      READ_ONLY: "Seuls les organisateurs peuvent écrire pour le moment.",
      MUTED: "Vous ne pouvez pas envoyer de messages dans cette conférence.",
      BANNED: "Vous n’avez plus le droit d’écrire dans cette conférence.",
      NOT_JOINED: "Vous n’êtes plus dans la conférence. Veuillez recharger la page.",
    },
    slowWait: (s) => `Mode lent : veuillez attendre ${s} secondes avant votre prochain message.`,
    rateLimited: "Vous envoyez trop vite ; ralentissez un peu.",
    banned: "Vous êtes banni·e de cette conférence.",
    kicked: "L’équipe de modération vous a retiré·e de la conférence.",
    joinRefused: "Impossible de rejoindre la conférence.",
    noSuchConference: "Cette conférence n’existe pas. Vérifiez le lien que vous avez suivi.",
    serverError: (t) => `Le serveur a fermé la connexion : ${t}`,
    system: {
      state: { scheduled: "La conférence est programmée.", open: "La conférence est ouverte aux questions.", live: "La conférence est en direct.", closed: "La conférence est terminée." },
      mode: { moderated: "Les questions sont désormais modérées.", open: "Les messages sont désormais publiés immédiatement.", readonly: "Seuls les organisateurs peuvent écrire désormais." },
      slowOn: (n) => `Mode lent activé : un message toutes les ${n} secondes.`,
      slowOff: "Mode lent désactivé.",
      deleted: "Un message a été supprimé par l’équipe de modération.",
    },
    colon: " :",
  },
};
const W = WORDS[LANG];

// ------------------------------------------------------------------ helpers

// rfc1459 case mapping (CASEMAPPING=rfc1459).
function fold(name) {
  return String(name || "").toLowerCase().replace(/[[\]\\~]/g, (c) => ({ "[": "{", "]": "}", "\\": "|", "~": "^" })[c]);
}

const timeFormat = new Intl.DateTimeFormat(LANG, { hour: "numeric", minute: "2-digit" });
const dayTimeFormat = new Intl.DateTimeFormat(LANG, { dateStyle: "medium", timeStyle: "short" });
const dateFormat = new Intl.DateTimeFormat(LANG, { dateStyle: "full", timeStyle: "short" });

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
  const button = el("button", { type: "submit" }, W.join);
  const form = el("form", { class: "join-form", novalidate: true, "aria-labelledby": "join-title" },
    el("div", { class: "field" },
      el("label", { for: "nick" }, W.nickLabel),
      el("p", { id: "nick-hint", class: "hint" }, W.nickHint),
      input,
      error),
    button,
    status);
  const section = el("section", { id: "join", class: "card join", "aria-labelledby": "join-title" },
    el("h2", { id: "join-title" }, W.joinTitle),
    el("p", {}, W.joinIntro),
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
  if (!nick) return showNickError(W.nickEmpty);
  if (/\s/.test(nick)) return showNickError(W.nickSpaces);
  if ([...nick].length > NICK_MAX) return showNickError(W.nickTooLong);
  ui.joinButton.disabled = true;
  ui.joinStatus.textContent = W.connecting;
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
  const leave = el("button", { type: "button", class: "secondary small", onclick: leaveChat }, W.leave);

  // The live region stays in place; the banner inside comes and goes.
  const answering = el("p", { class: "answering-banner" });
  const answeringLive = el("div", { class: "answering-live", role: "status" });
  const list = el("ol", { class: "messages" });
  const empty = el("p", { class: "empty" }, W.streamEmpty);
  const log = el("div", {
    class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": W.streamLabel,
    tabindex: "0",
  }, empty, list);

  const textarea = el("textarea", {
    id: "question", name: "question", rows: "3", "aria-describedby": "compose-hint compose-count compose-note",
  });
  const count = el("p", { id: "compose-count", class: "counter" }, W.counter(0));
  const note = el("p", { id: "compose-note", class: "compose-note", hidden: true });
  const feedback = el("p", { id: "compose-feedback", class: "feedback", role: "status" });
  const send = el("button", { type: "submit" }, W.send);
  const form = el("form", { class: "compose", novalidate: true, "aria-labelledby": "ask-title" },
    el("label", { for: "question" }, W.askLabel),
    el("p", { id: "compose-hint", class: "hint" }, W.askHint),
    note,
    textarea,
    el("div", { class: "compose-row" }, count, send),
    feedback);
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

  const mineList = el("ul", { class: "mine-list", "aria-label": W.mineLabel });
  const mineEmpty = el("p", { class: "empty" }, W.mineEmpty);

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
        el("h2", { id: "stream-title" }, W.streamTitle),
        answeringLive,
        log),
      el("div", { class: "side" },
        el("section", { class: "card ask", "aria-labelledby": "ask-title" },
          el("h2", { id: "ask-title" }, W.askTitle),
          form),
        el("section", { class: "card mine", "aria-labelledby": "mine-title" },
          el("h2", { id: "mine-title" }, W.mineTitle),
          mineEmpty,
          mineList))));
  Object.assign(ui, {
    chat: section, title, description, stateBadge, modeText, schedule, slow, audience, connection, answering, answeringLive,
    log, list, empty, textarea, count, note, feedback, send, mineList, mineEmpty,
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
    answeringItem: "",
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
  const client = new IrcClient({ url: IrcClient.defaultUrl(settings.websocket || "/ws"), nick });
  irc = client;
  client.on("state", (state, detail) => client === irc && onState(state, detail));
  client.on("nickrefused", (msg) => client === irc && onNickRefused(msg));
  client.on("registered", () => client === irc && onRegistered());
  client.on("message", (msg) => client === irc && onMessage(msg));
  client.on("serverError", (text) => client === irc && onServerError(text));
  client.on("close", () => client === irc && onClose());
  client.connect();
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
  if (msg.command === "432") text = W.nickInvalid(wanted);
  else if (/reserved/i.test(description)) text = W.nickReserved(wanted);
  else text = W.nickTaken(wanted);
  chat = null;
  showNickError(text);
}

function onState(state, detail) {
  const inChat = chat && chat.everRegistered;
  if (!inChat) {
    // Still on the nickname form.
    if (state === "reconnecting") {
      ui.joinStatus.textContent = W.cannotReach(detail ?? 1);
      ui.joinButton.disabled = false;
    }
    else if (state === "connecting") ui.joinStatus.textContent = W.connecting;
    return;
  }
  let text;
  if (state === "registered") text = W.connected(irc.nick);
  else if (state === "reconnecting") text = detail ? W.reconnecting(detail) : W.reconnectingNow;
  else if (state === "connecting") text = W.reconnectingNow;
  else text = W.disconnected;
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
  ui.connection.textContent = W.connected(irc.nick);
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
  showFeedback(W.serverError(plainText(match ? match[1] : text)), "conn");
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
  ui.joinStatus.textContent = W.left;
  ui.nickInput.focus();
}

function resetChatView() {
  ui.list.replaceChildren();
  ui.mineList.replaceChildren();
  ui.mineEmpty.hidden = false;
  ui.empty.hidden = false;
  ui.answeringLive.replaceChildren();
  ui.feedback.textContent = "";
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
      if (isChannel(p[1])) joinRefused(W.banned, reasonAfter(p[2], "You are banned from this conference"));
      break;
    case "403":
    case "405":
    case "471":
    case "473":
    case "475":
      if (isChannel(p[1])) joinRefused(W.joinRefused, plainText(p[2] || ""));
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
  showFeedback(reason ? `${text} ${W.reason(reason)}` : text, "error");
  updateComposer();
}

function onKicked(reason) {
  chat.joined = false;
  chat.removed = true;
  const why = plainText(reason || "");
  showFeedback(why ? `${W.kicked} ${W.reason(why)}` : W.kicked, "error");
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
  const [command, code, ...rest] = msg.params;
  const context = rest.slice(0, -1);
  const description = rest[rest.length - 1] || "";
  if (command === "JOIN" && code === "CONFERENCE" && isChannel(context[0])) {
    chat.state = context[1] || chat.state;
    chat.mode = context[2] || chat.mode;
    renderInfo();
    focusAfterJoin();
  } else if (command === "NAMES" && code === "AUDIENCE" && isChannel(context[0])) {
    chat.info.audience = context[1];
    renderInfo();
  } else if (command === "PRIVMSG" && code === "HELD" && isChannel(context[0])) {
    if (msg.tags.label) return; // answered through the labelled request
    const entry = chat.outbox.shift();
    addMine(context[1], entry ? entry.text : "");
    showFeedback(W.held, "ok");
  } else if (command === "PRIVMSG" && code === "PUBLISHED" && isChannel(context[0])) {
    setMineStatus(context[1], "published");
    showFeedback(W.publishedNote, "ok");
  } else if (command === "PRIVMSG" && code === "DECLINED" && isChannel(context[0])) {
    const reason = reasonAfter(description, "Your message was not published");
    setMineStatus(context[1], "declined", reason);
    showFeedback(reason ? `${W.declinedNote} ${W.reason(reason)}` : W.declinedNote, "error");
  } else if (command === "VOTE" && code === "COUNTED" && isChannel(context[0])) {
    setVoted(context[1], Number(context[2]));
    showFeedback(W.voteCounted, "ok");
  } else if (code === "RATE_LIMITED") {
    showFeedback(W.rateLimited, "warn");
  }
}

function onFail(msg) {
  const [command, code, ...rest] = msg.params;
  const context = rest.slice(0, -1);
  const description = plainText(rest[rest.length - 1] || "");
  if (command === "CONF") chat.infoAsked = 0; // answered, if with an error
  if (command === "PRIVMSG") {
    if (msg.tags.label) return; // answered through the labelled request
    const entry = chat.outbox.shift();
    privmsgFailed(code, context, description, entry ? entry.text : "");
  } else if (command === "VOTE") {
    const item = context[1];
    if (code === "ALREADY_VOTED") {
      setVoted(item, null);
      showFeedback(W.alreadyVoted, "warn");
    } else if (code === "CANNOT_VOTE") {
      setNotVotable(item);
      showFeedback(W.cannotVote, "warn");
    } else {
      showFeedback(W.fails[code] || description, "error");
    }
  } else if (command === "CONF" && code === "NO_SUCH_CONFERENCE") {
    showFeedback(W.noSuchConference, "error");
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
    showFeedback(W.slowWait(seconds), "warn");
    return;
  }
  if (code === "MUTED") {
    const reason = reasonAfter(description, "You cannot send messages here");
    showFeedback(reason ? `${W.fails.MUTED} ${W.reason(reason)}` : W.fails.MUTED, "error");
    return;
  }
  if (code === "NOT_OPEN") chat.state = "scheduled";
  if (code === "CLOSED") chat.state = "closed";
  if (code === "READ_ONLY" && chat.mode !== "readonly") {
    // channel mode +m: the conference's own mode is unchanged.
  }
  showFeedback(W.fails[code] || description, "error");
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
  const [target, sub, key, value] = msg.params;
  if (!isChannel(target)) return;
  if (sub === "INFO") {
    chat.infoBuffer ||= {};
    chat.infoBuffer[key] = value ?? "";
  } else if (sub === "END" && chat.infoBuffer) {
    chat.infoAsked = 0;
    chat.info = chat.infoBuffer;
    chat.infoBuffer = null;
    chat.state = chat.info.state || chat.state;
    chat.mode = chat.info.mode || chat.mode;
    if (chat.info.title) setTitle(chat.info.title);
    if ((chat.info.now_answering || "") !== chat.answeringItem) setAnswering(chat.info.now_answering || "", null);
    renderInfo();
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
    if (!seen.has(id) && record.time.getTime() >= oldest && !record.local) redact(id);
  }
}

function onChannelNotice(msg) {
  const tags = msg.tags;
  if (!fromServer(msg)) {
    addPublished(msg); // a staff NOTICE is published like a PRIVMSG
    return;
  }
  if (tags["confchat/state"] !== undefined) {
    chat.state = tags["confchat/state"];
    chat.info.state = chat.state;
    addSystem(W.system.state[chat.state] || plainText(msg.params[1]), msg);
    renderInfo();
  } else if (tags["confchat/mode"] !== undefined) {
    chat.mode = tags["confchat/mode"];
    chat.info.mode = chat.mode;
    addSystem(W.system.mode[chat.mode] || plainText(msg.params[1]), msg);
    renderInfo();
  } else if (tags["confchat/slow_mode"] !== undefined) {
    chat.info.slow_mode = tags["confchat/slow_mode"];
    const n = parseInt(chat.info.slow_mode, 10) || 0;
    addSystem(n ? W.system.slowOn(n) : W.system.slowOff, msg);
    renderInfo();
  } else if (tags["confchat/answering"] !== undefined) {
    setAnswering(tags["confchat/answering"], msg);
  } else if (tags["confchat/answered"] !== undefined) {
    setAnswered(tags["confchat/answered"]);
  } else if (/deleted by the moderators/.test(msg.params[1] || "")) {
    addSystem(W.system.deleted, msg); // clients without draft/message-redaction
  }
}

// ------------------------------------------------------------------ the stream

function roleOf(nick) {
  return chat.staff.get(fold(nick)) || null;
}

function metaLine(record, kindLabel) {
  const who = el("span", { class: "author" }, record.author);
  const parts = [who];
  if (record.role) parts.push(el("span", { class: `badge role role-${record.role}` }, W.roles[record.role]));
  if (record.mine) parts.push(el("span", { class: "badge mine-badge" }, W.yourQuestion));
  if (kindLabel) parts.push(el("span", { class: "visually-hidden" }, kindLabel));
  parts.push(el("time", { datetime: record.time.toISOString() }, shortTime(record.time)));
  return el("p", { class: "meta" }, parts);
}

function addPublished(msg) {
  const msgid = msg.tags.msgid || "";
  const batch = msg.tags.batch;
  if (batch && chat.historySeen && chat.historyBatches.has(batch) && msgid) chat.historySeen.add(msgid);
  if (msgid && chat.messages.has(msgid)) return; // history after a reconnection
  const item = msg.tags["confchat/item"] || "";
  const replyTo = msg.tags["+draft/reply"] || "";
  const author = msg.nick || "";
  const text = plainText(msg.params[1] || "");
  const isQuestion = Boolean(item) && !replyTo;
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
  const kindLabel = isQuestion ? W.question : replyTo ? W.answer : "";
  li.append(metaLine(record, kindLabel), record.body);
  chat.messages.set(record.msgid, record);

  if (isQuestion) {
    record.badges = el("span", { class: "badges" });
    record.voteButton = el("button", { type: "button", class: "vote secondary small", hidden: true, onclick: () => vote(record) });
    record.status = el("div", { class: "msg-status" }, record.badges, record.voteButton);
    record.answers = el("ol", { class: "answers", "aria-label": W.answersLabel(author), hidden: true });
    li.append(record.status, record.answers);
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
  if (replyTo) li.insertBefore(el("p", { class: "reply-note" }, W.replyTo), record.body);
  appendToStream(li);
}

function appendToStream(li) {
  ui.empty.hidden = true;
  ui.list.append(li);
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
  if (record.answering) record.badges.append(el("span", { class: "badge answering-badge" }, W.nowAnswering));
  if (record.answered) record.badges.append(el("span", { class: "badge answered-badge" }, W.answered));
  // The button is updated in place, so that it keeps the focus.
  const button = record.voteButton;
  const context = el("span", { class: "visually-hidden" }, W.forQuestionOf(record.author));
  const canVote = !record.answered && !record.hasAnswer && !record.mine && record.votable;
  if (record.voted) {
    button.hidden = false;
    button.setAttribute("aria-disabled", "true");
    button.classList.add("is-voted");
    button.replaceChildren(el("span", { "aria-hidden": "true", class: "vote-mark" }, "✓ "), W.voted, context,
      record.votes ? ` · ${W.votes(record.votes)}` : "");
  } else if (canVote) {
    button.hidden = false;
    button.removeAttribute("aria-disabled");
    button.classList.remove("is-voted");
    button.replaceChildren(el("span", { "aria-hidden": "true", class: "vote-mark" }, "▲ "), W.vote, context);
  } else {
    button.hidden = true;
  }
  record.status.hidden = !record.badges.childNodes.length && button.hidden;
}

function vote(record) {
  if (record.voted || record.votePending) return;
  if (!irc || !chat.joined) {
    showFeedback(W.cannotSendNow, "error");
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
  renderQuestionStatus(record);
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
  chat.answeringItem = item || "";
  if (!item) {
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
    el("strong", {}, W.nowAnswering + W.colon), " ",
    who ? el("span", { class: "author" }, who) : "", who ? W.colon + " " : "",
    el("span", { class: "answering-text" }, text));
  if (record) {
    const link = el("a", { href: `#${record.domId}` }, W.seeIt);
    ui.answering.append(" ", link);
  }
  ui.answeringLive.replaceChildren(ui.answering);
}

function setAnswered(item) {
  const record = chat.items.get(item);
  if (chat.answeringItem === item) setAnswering("", null);
  if (!record) return;
  record.answered = true;
  record.li.classList.add("is-answered");
  renderQuestionStatus(record);
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
      mine.detail.replaceChildren(W.deletedQuestion);
      mine.detail.hidden = false;
    }
    if (chat.answeringItem === record.item) setAnswering("", null);
    if (record.answers && record.answers.children.length) {
      // Keep the published answers; the question itself goes.
      record.li.replaceChildren(el("p", { class: "deleted-note" }, W.deletedQuestion), record.answers);
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
  if (W.states[state]) {
    ui.stateBadge.textContent = W.states[state];
    ui.stateBadge.className = `badge state state-${state}`;
    ui.stateBadge.hidden = false;
  }
  ui.description.textContent = plainText(info.description || "");
  ui.description.hidden = !info.description;
  ui.modeText.textContent = W.modes[mode] || "";
  ui.modeText.hidden = !W.modes[mode];
  const rows = [];
  for (const key of ["opens", "starts", "ends"]) {
    if (info[key]) rows.push(el("div", {}, el("dt", {}, W[key]), el("dd", {}, el("time", { datetime: info[key] }, humanDate(info[key])))));
  }
  ui.schedule.replaceChildren(...rows);
  ui.schedule.hidden = !rows.length;
  ui.schedule.setAttribute("aria-label", W.schedule);
  const slow = parseInt(info.slow_mode, 10) || 0;
  ui.slow.textContent = slow ? W.slowMode(slow) : "";
  ui.slow.hidden = !slow;
  const audience = parseInt(info.audience, 10);
  ui.audience.textContent = Number.isNaN(audience) ? "" : W.audience(audience);
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
  if (blocked) note = W.writingClosed[blocked];
  else if (!connected && chat.everJoined && !chat.removed) note = W.notConnected;
  ui.note.textContent = note;
  ui.note.hidden = !note;
  if (blocked && ui.feedback.dataset.kind === "warn") showFeedback("", "");
}

function updateCounter() {
  const n = [...ui.textarea.value].length;
  ui.count.textContent = W.counter(n);
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
    showFeedback(W.emptyQuestion, "error");
    ui.textarea.focus();
    return;
  }
  const length = [...text].length;
  const maxBytes = 500 - utf8Length(`PRIVMSG ${CONFERENCE} :`);
  if (length > MAX_CHARS || utf8Length(text) > maxBytes) {
    showFeedback(W.tooLong(Math.max(1, length - MAX_CHARS)), "error");
    ui.textarea.focus();
    return;
  }
  if (!irc || !irc.registered || !chat.joined || ui.send.disabled) {
    if (Date.now() < chat.slowUntil) showFeedback(W.slowWait(Math.ceil((chat.slowUntil - Date.now()) / 1000)), "warn");
    else if (writingBlocked()) showFeedback(W.writingClosed[writingBlocked()], "error");
    else showFeedback(W.cannotSendNow, "error");
    return;
  }
  ui.textarea.value = "";
  updateCounter();
  showFeedback("", "");
  ui.textarea.focus();
  const client = irc;
  if (client.caps.has("labeled-response")) {
    client.request("PRIVMSG", [CONFERENCE, text]).then((replies) => {
      if (client !== irc || !chat) return;
      for (const reply of replies) {
        const [command, code, ...rest] = reply.params;
        if (reply.command === "NOTE" && command === "PRIVMSG" && code === "HELD") {
          addMine(rest[1], text);
          showFeedback(W.held, "ok");
        } else if (reply.command === "FAIL" && command === "PRIVMSG") {
          privmsgFailed(code, rest.slice(0, -1), plainText(rest[rest.length - 1] || ""), text);
        }
      }
    });
  } else {
    chat.outbox.push({ text });
    client.send("PRIVMSG", [CONFERENCE, text]);
  }
}

// ------------------------------------------------------------------ my questions

function addMine(item, text) {
  if (!item || chat.mine.has(item)) return;
  const status = el("span", { class: "badge pending-badge" }, W.pending);
  const detail = el("p", { class: "mine-detail", hidden: true });
  const li = el("li", { class: "mine-item pending" },
    el("p", { class: "message-text" }, plainText(text)),
    el("p", { class: "mine-status" }, status),
    detail);
  const entry = { item, text, li, status, detail, state: "pending" };
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
  entry.status.textContent = state === "published" ? W.published : state === "declined" ? W.declined : W.pending;
  entry.detail.replaceChildren();
  entry.detail.hidden = true;
  if (state === "declined" && reason) {
    entry.detail.textContent = W.reason(reason);
    entry.detail.hidden = false;
  }
  const question = chat.items.get(item);
  if (state === "published" && question) {
    if (!question.mine) {
      question.mine = true;
      question.li.classList.add("is-mine");
      question.li.querySelector(".meta").replaceWith(metaLine(question, W.question));
      renderQuestionStatus(question);
    }
    entry.detail.append(el("a", { href: `#${question.domId}` }, W.seeIt));
    entry.detail.hidden = false;
  }
}

// ------------------------------------------------------------------ start

function start() {
  if (!main) return;
  if (!CONFERENCE) {
    main.append(el("p", { class: "card notice" }, W.noConference));
    return;
  }
  main.append(buildJoinForm(), buildChat());
  resetChatView();
}

start();
