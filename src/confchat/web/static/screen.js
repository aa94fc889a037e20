// The room screen (/screen?conf=#townhall): for a projector in the hall or
// a stream overlay. The question being answered in large type, the
// conference's title, a QR code that opens the visitor page, the most
// popular questions and the audience size; it follows the conference live.
//
// It is a read-only visitor: it joins the conference over the WebSocket
// like a visitor's page and never writes (it counts in the audience, once
// per screen open). Every text from the server goes in as text (el()).

import { IrcClient, el, pageSettings, plainText } from "./irc.js";
import { fold, messageItem, parseBroadcast, parseConf, parseReply, t } from "./conference.js";

const settings = pageSettings();
const CONFERENCE = settings.conference || "";
const JOIN_URL = settings.join_url || "";
const TOP = 3; // popular questions shown under the stage

const screen = {
  questions: new Map(), // item id -> { id, author, text, msgid, votes, answered }
  answering: null, // item id
  answeringText: null, // { who, text } when the question is not in our history
  audience: null,
};

const ui = {};

function build(main) {
  const title = document.getElementById("page-title");
  ui.title = title;
  ui.status = el("p", { class: "screen-status", role: "status" }, t("connecting"));
  ui.label = el("p", { class: "stage-label" }, t("now_answering"));
  ui.question = el("p", { class: "stage-question" });
  ui.author = el("p", { class: "stage-author" });
  ui.waiting = el("p", { class: "stage-waiting" }, t("waiting"));
  ui.stage = el("section", { class: "stage", "aria-live": "polite", "aria-labelledby": "stage-label" },
    el("h2", { id: "stage-label", class: "visually-hidden" }, t("now_answering")),
    ui.label, ui.question, ui.author, ui.waiting);
  ui.topList = el("ol", { class: "top-list" });
  ui.top = el("section", { class: "top", "aria-labelledby": "top-title", hidden: true },
    el("h2", { id: "top-title" }, t("top_title")), ui.topList);
  ui.audience = el("p", { class: "screen-audience", hidden: true });
  const qr = el("img", {
    class: "qr", src: `/qr.svg?conference=${encodeURIComponent(CONFERENCE)}`, width: "330", height: "330",
    alt: t("qr_alt", { url: JOIN_URL }),
  });
  const join = el("aside", { class: "join", "aria-labelledby": "join-title" },
    el("h2", { id: "join-title" }, t("join_title")),
    qr,
    el("p", { class: "join-text" }, t("join_text"), " ", el("span", { class: "join-url" }, JOIN_URL)));
  main.append(el("div", { class: "screen-layout" },
    el("div", { class: "screen-main" }, ui.stage, ui.top, ui.audience),
    join), ui.status);
  render();
}

// ------------------------------------------------------------------ showing

function render() {
  const record = screen.questions.get(screen.answering);
  const shown = record ? { who: record.author, text: record.text } : screen.answering !== null ? screen.answeringText : null;
  ui.label.hidden = !shown;
  ui.question.textContent = shown ? shown.text : "";
  ui.author.textContent = shown && shown.who ? `— ${shown.who}` : "";
  ui.question.hidden = !shown;
  ui.author.hidden = !shown || !shown.who;
  ui.waiting.hidden = Boolean(shown);
  document.body.classList.toggle("is-answering", Boolean(shown));

  const top = [...screen.questions.values()]
    .filter((q) => !q.answered && q.votes > 0 && q.id !== screen.answering)
    .sort((a, b) => b.votes - a.votes || a.id - b.id)
    .slice(0, TOP);
  ui.topList.replaceChildren(...top.map((q) => el("li", { class: "top-item" },
    el("span", { class: "top-text" }, q.text), " ",
    el("span", { class: "top-votes" }, t("votes", { n: q.votes })))));
  ui.top.hidden = !top.length;
  ui.audience.hidden = screen.audience === null;
  if (screen.audience !== null) ui.audience.textContent = t("audience", { n: screen.audience });
}

function setTitle(text) {
  const title = plainText(text || "").trim() || CONFERENCE;
  ui.title.textContent = title;
  document.title = title;
}

// ------------------------------------------------------------------ lines

const isChannel = (name) => fold(name) === fold(CONFERENCE);

function onMessage(irc, msg) {
  const p = msg.params;
  switch (msg.command) {
    case "332":
      if (isChannel(p[1])) setTitle(p[2]);
      break;
    case "TOPIC":
      if (isChannel(p[0])) setTitle(p[1]);
      break;
    case "NOTE": {
      const reply = parseReply(msg);
      if (reply.command === "JOIN" && reply.code === "CONFERENCE" && isChannel(reply.channel)) {
        irc.send("CONF", [CONFERENCE, "INFO"]);
        irc.send("CONF", [CONFERENCE, "VOTES"]);
      } else if (reply.command === "NAMES" && reply.code === "AUDIENCE" && isChannel(reply.channel)) {
        screen.audience = reply.audience;
        render();
      }
      break;
    }
    case "FAIL": {
      const reply = parseReply(msg);
      if (reply.code === "NO_SUCH_CONFERENCE") ui.status.textContent = t("no_such_conference");
      break;
    }
    case "CONF":
      onConf(msg);
      break;
    case "PRIVMSG":
      if (isChannel(p[0])) onPublished(msg);
      break;
    case "NOTICE":
      if (isChannel(p[0]) && (!msg.source || !msg.source.includes("!"))) onBroadcast(msg);
      break;
    case "REDACT":
      if (isChannel(p[0])) onRedact(p[1]);
      break;
    default:
      break;
  }
}

function onConf(msg) {
  const line = parseConf(msg);
  if (line && line.type === "votes" && isChannel(line.channel)) {
    const record = screen.questions.get(line.id);
    if (record) record.votes = line.votes;
    render();
  } else if (line && line.type === "info" && isChannel(line.channel)) {
    if (line.key === "title") setTitle(line.value);
    if (line.key === "audience") screen.audience = parseInt(line.value, 10) || 0;
    if (line.key === "now_answering" && line.value !== screen.answering) {
      screen.answering = line.value;
      screen.answeringText = null;
    }
    render();
  } else if (msg.params[1] === "HEADCOUNT" && isChannel(msg.params[0])) {
    screen.audience = parseInt(msg.params[2], 10) || 0;
    render();
  }
}

function onPublished(msg) {
  const { item, replyTo } = messageItem(msg);
  if (item === null || replyTo) return; // staff messages and answers are not on the screen
  const known = screen.questions.get(item);
  screen.questions.set(item, {
    id: item, author: msg.nick || "", text: plainText(msg.params[1] || ""), msgid: msg.tags.msgid || "",
    votes: known ? known.votes : 0, answered: known ? known.answered : false,
  });
  render();
}

function onBroadcast(msg) {
  const news = parseBroadcast(msg);
  if (news.answering !== undefined) {
    screen.answering = news.answering;
    // The server's words, for a question older than the history we got.
    const raw = plainText(msg.params[1] || "").replace(/^[^:]*:\s*/, "");
    const at = raw.indexOf(": ");
    screen.answeringText = at > 0 ? { who: raw.slice(0, at), text: raw.slice(at + 2) } : { who: "", text: raw };
  } else if (news.answered !== undefined) {
    const record = screen.questions.get(news.answered);
    if (record) record.answered = true;
    if (screen.answering === news.answered) screen.answering = null;
  } else {
    return;
  }
  render();
}

function onRedact(msgid) {
  for (const [id, record] of screen.questions) {
    if (record.msgid !== msgid) continue;
    screen.questions.delete(id);
    if (screen.answering === id) screen.answering = null;
  }
  render();
}

// ------------------------------------------------------------------ the connection

function connect() {
  const nick = `screen${Math.floor(1000 + Math.random() * 9000)}`;
  const irc = new IrcClient({ url: IrcClient.defaultUrl(settings.websocket || "/ws"), nick });
  irc.on("registered", () => {
    ui.status.textContent = "";
    irc.send("JOIN", [CONFERENCE]);
  });
  irc.on("state", (state) => {
    if (state === "reconnecting") ui.status.textContent = t("reconnecting");
  });
  irc.on("message", (msg) => onMessage(irc, msg));
  irc.connect();
}

const main = document.getElementById("main");
if (main) {
  if (!CONFERENCE) {
    main.append(el("p", { class: "screen-status" }, t("no_conference")));
  } else {
    build(main);
    connect();
  }
}
