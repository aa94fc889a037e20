// The moderation console. A moderator signs in (SASL PLAIN over the
// WebSocket: the password never appears in a URL), picks a conference, and
// works its live queue: approve, edit, drop with a reason, reorder (buttons,
// drag and drop, keys), forward to the guest, hold, claim; bulk actions on a
// selection. Beside the queue: the published stream (delete, "now
// answering", "answered"), the audience (mute, ban, disconnect), bans and
// mutes, and the conference's state, mode and slow mode. What the automatic
// policies found is on each question (its flags, score and reasons); the
// queue can be filtered and sorted by it, the unflagged questions approved
// in one go, and the messages the policies dropped are listed apart. Shield
// mode is shown in a banner, and raised or lowered from it.
//
// A large event fits: the paged listings (the queue, the published
// questions) are read page after page, the console usable from the first;
// past the server's NAMES limit the audience is a count, its list is read a
// page at a time from the server and searched there.
//
// Every user-supplied string reaches the page through textContent (el());
// no inline script or style (the page has a strict CSP).

import { DEFAULT_CAPS, IrcClient, RequestError, el, pageSettings, parseLine, plainText } from "./irc.js";
import {
  LOCALE, VOCAB, conferenceInfo, fold, messageItem, nextPage, parseBroadcast, parseConf, parseFindings,
  parseQueueItem, parseReply, t, unansweredText,
} from "./conference.js";

const settings = pageSettings();

const STATES = VOCAB.conference_states;
const MODES = VOCAB.room_modes;
const UNDECIDED = new Set(["pending", "held", "forwarded"]);
const GHOST_MS = 8000; // a decided question stays in place this long...
const GHOST_HOVER_MS = 30000; // ...or up to this long while the pointer is over the queue
const STREAM_MAX = 300;
const AUDIENCE_MAX = 200;
const AUTO_DROPS_MAX = 50; // the automatic drops listed (the counter counts them all)
// Flags that say a person must look: a policy failed, the policies could
// not be built, or the asynchronous ones are still looking.
const ALERT_FLAGS = ["policy-error", "policy-config"];
const SCREENING_FLAG = "screening";
const APPROVE_LINE_MAX = 400; // bytes of "QUEUE <channel> APPROVE <ids>" (the server takes 512)
// The pages of a listing after its first follow one another this far apart:
// under the server's default flood rate (5 lines a second), so that the
// moderator's own actions never wait behind a long listing.
const PAGE_PAUSE_MS = 250;
// The questions on the page: the first this many the filter shows (and
// those between them it hides), then a button for as many more. Thousands
// of questions in the page would slow the whole console down.
const QUEUE_WINDOW = 300;
// The server's limits.names_audience_max by default: past it, NAMES gives
// the staff a count instead of the audience. The console asks NAMES again
// when the audience it counts crosses it (or doubles, or halves).
const NAMES_AUDIENCE_MAX = 500;
const SEARCH_DELAY_MS = 300; // typing in the audience's search box: the request waits for a pause

// ------------------------------------------------------------------ helpers

let uid = 0;
const newId = (prefix) => `${prefix}-${++uid}`;

function hiddenText(text) {
  return el("span", { class: "visually-hidden" }, text);
}

// A button whose visible label is completed, for assistive technology, by
// a hidden suffix (so its accessible name starts with the visible label).
function button(label, { suffix = "", cls = "small", onclick = null, type = "button", title = null } = {}) {
  return el("button", { type, class: cls, onclick, title }, label, suffix ? hiddenText(suffix) : null);
}

function iconButton(icon, name, onclick) {
  return el("button", { type: "button", class: "small icon", title: name, onclick },
    el("span", { "aria-hidden": "true" }, icon), hiddenText(name));
}

function field(labelText, control, cls = "field") {
  if (!control.id) control.id = newId("f");
  return el("div", { class: cls }, el("label", { for: control.id }, labelText), control);
}

function formatAge(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s < 600 ? ` ${String(s % 60).padStart(2, "0")} s` : ""}`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}`;
}

const clockFormat = new Intl.DateTimeFormat(LOCALE, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "short", timeStyle: "short" });
const BASE_TITLE = document.title;

// ------------------------------------------------------------------ the IRC client

// irc.js gives up when the account's nick is already taken (the same
// moderator in a second tab, or in an IRC client); once SASL succeeded any
// free nick will do. The server refuses the nick as soon as it is sent,
// before SASL: the refusal waits for SASL's answer (a wrong password is
// still told as such).
class ModeratorIrc extends IrcClient {
  connect() {
    this.saslDone = false;
    this.nickTaken = false;
    super.connect();
  }

  receive(line) {
    if (!this.registered && / (433|903) /.test(line)) {
      const msg = parseLine(line);
      if (msg.command === "433") {
        this.nickTaken = true;
        if (this.saslDone) this.takeFreeNick();
        return;
      }
      if (msg.command === "903") {
        this.saslDone = true;
        if (this.nickTaken) this.takeFreeNick();
      }
    }
    super.receive(line);
  }

  takeFreeNick() {
    this.nickTaken = false;
    this.nick = `${this.wantedNick.slice(0, 24)}_${Math.floor(Math.random() * 1000)}`;
    this.send("NICK", [this.nick]);
  }
}

// ------------------------------------------------------------------ state

const S = {
  irc: null,
  account: "",
  loginFailed: false,
  everRegistered: false,
  channel: settings.conference || "",
  joined: false,
  role: "",
  info: {},
  items: new Map(), // id -> item
  selected: null,
  checked: new Set(),
  members: new Map(), // folded nick -> member
  namesOpen: false,
  messages: new Map(), // msgid -> entry
  questions: new Map(), // item id -> entry (published question)
  answering: null,
  skew: 0, // server clock minus ours, ms
  dropReasons: new Map(),
  newCount: 0,
  newTimer: null,
  listing: false,
  renderQueued: false,
  audienceQueued: false,
  shortcuts: true,
  filter: "all", // all | flagged | unflagged | flag:<name>
  sort: "queue", // queue | score
  flagKey: "",
  autoDrops: [], // newest first, at most AUTO_DROPS_MAX
  autoDropIds: new Set(),
  autoDropTotal: 0,
  shield: { on: false, closed: false, by: null, reason: "" },
  unflagged: [], // the ids the confirmation is about
  gen: 0, // one per conference shown: a request of an earlier one is ignored
  window: QUEUE_WINDOW, // questions shown (QUEUE_WINDOW)
  paging: false, // the queue's later pages are still coming
  queueTotal: 0, // questions waiting, as the latest page of the queue said (with the events since)
  namesNote: null, // the NOTE NAMES AUDIENCE count of the NAMES being received
  namesAsked: false,
  audience: newAudience(),
};

// The audience panel's state: `large` once NAMES gave the staff only and a
// count; the visitors shown are then a listing from the server (`rows`, by
// nick, page after page), for the search in the filter box.
function newAudience() {
  return { large: false, count: 0, base: 0, rows: [], next: null, total: 0, search: "", token: 0, timer: null,
    loading: false };
}

const serverNow = () => Date.now() + S.skew;
const isMe = (who) => !!who && (fold(who) === fold(S.account) || (S.irc && fold(who) === fold(S.irc.nick)));
const sameChannel = (a) => a && S.channel && fold(a) === fold(S.channel);
const online = () => S.irc && S.irc.registered;

// ------------------------------------------------------------------ page skeleton

const main = document.getElementById("main");
const V = {}; // the page's fixed nodes

function buildPage() {
  V.announce = el("div", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  V.alerts = el("div", { class: "alerts", id: "alerts", "aria-live": "assertive", "aria-relevant": "additions" });

  // Sign-in form.
  V.account = el("input", { id: "login-account", name: "username", autocomplete: "username", autocapitalize: "none", spellcheck: "false", required: true });
  V.password = el("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  V.loginError = el("p", { id: "login-error", class: "error", role: "alert" });
  V.loginButton = el("button", { type: "submit" }, t("sign_in"));
  V.loginForm = el("form", { class: "login-form", method: "post", action: "#", "aria-describedby": "login-intro", onsubmit: onLogin },
    field(t("account"), V.account),
    field(t("password"), V.password),
    V.loginError,
    V.loginButton);
  V.login = el("section", { class: "login", id: "login", "aria-labelledby": "login-title" },
    el("h2", { id: "login-title" }, t("sign_in_title")),
    el("p", { id: "login-intro", class: "status" }, t("sign_in_intro")),
    V.loginForm);

  // Top bar: who, connection, conference, sign out.
  V.who = el("span", { class: "who" });
  V.conn = el("span", { class: "conn", role: "status" });
  V.confSelect = el("select", { id: "conference-select" });
  V.confForm = el("form", { class: "conf-pick", onsubmit: (e) => { e.preventDefault(); openConference(V.confSelect.value); } },
    el("label", { for: "conference-select" }, t("conference")), V.confSelect,
    el("button", { type: "submit", class: "small secondary" }, t("open_conference")));
  V.confTitle = el("h2", { id: "conf-title" });
  V.topbar = el("div", { class: "topbar" },
    V.confTitle,
    V.confForm,
    el("div", { class: "account" },
      el("p", { class: "session" }, V.who, " ", V.conn),
      el("a", { href: "#help", class: "help-link" }, t("show_help")),
      V.adminLink = el("a", { href: "/admin", id: "admin-link", hidden: true }, t("admin_link")), // admins only
      el("button", { type: "button", class: "small secondary", onclick: signOut }, t("sign_out"))));

  buildSchedule();

  // Counters.
  V.statAudience = el("dd", { id: "stat-audience" }, "0");
  V.statQueue = el("dd", { id: "stat-queue" }, "0");
  V.statQueueDetail = el("span", { class: "detail" });
  V.statOldest = el("dd", { id: "stat-oldest" }, t("none"));
  V.statAnswering = el("dd", { id: "stat-answering" }, t("none"));
  V.stats = el("dl", { class: "stats" },
    el("div", {}, el("dt", {}, t("stat_audience")), V.statAudience),
    el("div", {}, el("dt", {}, t("stat_queue")), V.statQueue),
    el("div", {}, el("dt", {}, t("stat_oldest")), V.statOldest),
    el("div", {}, el("dt", {}, t("stat_answering")), V.statAnswering));

  // Conference state and mode.
  V.stateSelect = el("select", { id: "conf-state" }, STATES.map((s) => el("option", { value: s }, t(`st_${s}`))));
  V.modeSelect = el("select", { id: "conf-mode" }, MODES.map((m) => el("option", { value: m }, t(`md_${m}`))));
  V.slowInput = el("input", { id: "conf-slow", type: "number", min: "0", max: "3600", step: "1", inputmode: "numeric", value: "0" });
  // A control the moderator changed keeps its value until applied: a
  // broadcast arriving meanwhile does not reset it.
  const setting = (labelText, control, onApply) => el("form", { class: "setting",
    oninput: () => { control.dataset.edited = "true"; },
    onsubmit: (e) => { e.preventDefault(); delete control.dataset.edited; onApply(); } },
    el("label", { for: control.id }, labelText), control,
    el("button", { type: "submit", class: "small secondary" }, t("apply"), hiddenText(`: ${labelText}`)));
  V.controls = el("section", { class: "controls", id: "settings", "aria-labelledby": "controls-title" },
    el("h2", { id: "controls-title" }, t("controls_title")),
    el("div", { class: "settings" },
      setting(t("state"), V.stateSelect, () => act("CONF", [S.channel, "STATE", V.stateSelect.value])),
      setting(t("mode"), V.modeSelect, () => act("CONF", [S.channel, "SET", "mode", V.modeSelect.value])),
      setting(t("slow_mode"), V.slowInput, () => act("CONF", [S.channel, "SET", "slow_mode", String(Math.max(0, parseInt(V.slowInput.value, 10) || 0))]))));

  // Queue.
  V.selectAll = el("input", { type: "checkbox", id: "select-all", onchange: onSelectAll });
  V.selectedCount = el("span", { class: "selected-count", "aria-live": "polite" });
  V.bulkReason = el("input", { id: "bulk-reason", list: "drop-reasons", autocomplete: "off" });
  V.bulkButtons = [
    button(t("approve_selected"), { cls: "small", onclick: () => bulk("APPROVE") }),
    button(t("drop_selected"), { cls: "small danger", onclick: () => bulk("DROP") }),
    button(t("forward_selected"), { cls: "small secondary", onclick: () => bulk("FORWARD") }),
    button(t("hold_selected"), { cls: "small secondary", onclick: () => bulk("HOLD") }),
  ];
  V.nextButton = el("button", { type: "button", id: "release-next", class: "next", onclick: releaseNext }, t("release_next"),
    el("kbd", { "aria-hidden": "true" }, "n"));
  V.queueList = el("ol", { id: "queue-list", class: "queue", "aria-labelledby": "queue-title" });
  V.queueEmpty = el("p", { class: "empty status" }, t("queue_empty"));
  V.filterEmpty = el("p", { class: "empty status", hidden: true }, t("filter_empty"));
  V.queueLoading = el("p", { class: "status loading", id: "queue-loading", hidden: true });
  V.queueMore = el("button", { type: "button", id: "queue-more", class: "small secondary", hidden: true, onclick: showMoreQuestions });
  V.queueCount = el("span", { class: "count" });

  // Filter and sort by what the policies found; approve the unflagged.
  V.filterSelect = el("select", { id: "queue-filter", onchange: () => setFilter(V.filterSelect.value) });
  V.flagGroup = el("optgroup", { label: t("filter_by_flag") });
  V.sortSelect = el("select", { id: "queue-sort", onchange: () => setSort(V.sortSelect.value) },
    el("option", { value: "queue" }, t("sort_queue")),
    el("option", { value: "score" }, t("sort_score")));
  V.shownCount = el("span", { class: "shown-count", id: "shown-count", role: "status" });
  V.approveUnflagged = el("button", { type: "button", id: "approve-unflagged", class: "small approve",
    "aria-haspopup": "dialog", onclick: openApproveUnflagged });
  V.tools = el("div", { class: "queue-tools", role: "group", "aria-label": t("queue_tools") },
    el("span", { class: "tool" }, el("label", { for: "queue-filter" }, t("filter_label")), V.filterSelect),
    el("span", { class: "tool" }, el("label", { for: "queue-sort" }, t("sort_label")), V.sortSelect),
    V.shownCount,
    V.approveUnflagged);
  renderFilterOptions([]);

  // The confirmation of "approve all unflagged".
  V.confirmText = el("p", { id: "confirm-unflagged-text" });
  V.confirmList = el("ol", { class: "confirm-list" });
  V.confirmMore = el("p", { class: "status", hidden: true });
  V.confirmOk = el("button", { type: "button", id: "confirm-unflagged-ok", class: "approve", onclick: confirmApproveUnflagged });
  V.confirm = el("dialog", { id: "confirm-unflagged", class: "confirm", "aria-labelledby": "confirm-unflagged-title",
    "aria-describedby": "confirm-unflagged-text" },
  el("h2", { id: "confirm-unflagged-title" }, t("unflagged_title")),
  V.confirmText, V.confirmList, V.confirmMore,
  el("div", { class: "form-buttons" }, V.confirmOk,
    button(t("cancel"), { cls: "secondary", suffix: `: ${t("unflagged_title")}`, onclick: () => V.confirm.close() })));
  V.confirm.addEventListener("close", () => {
    S.unflagged = [];
    if (document.activeElement === document.body || !document.contains(document.activeElement)) V.approveUnflagged.focus();
  });
  V.queue = el("section", { class: "queue-panel", id: "queue", "aria-labelledby": "queue-title" },
    el("div", { class: "panel-head" },
      el("h2", { id: "queue-title", tabindex: "-1" }, t("queue_title"), " ", V.queueCount),
      V.nextButton),
    el("div", { class: "bulk", role: "group", "aria-label": t("bulk_actions") },
      el("span", { class: "check-all" }, V.selectAll, el("label", { for: "select-all" }, t("select_all"))),
      V.selectedCount,
      el("span", { class: "bulk-reason" }, el("label", { for: "bulk-reason" }, t("bulk_reason")), V.bulkReason),
      el("span", { class: "bulk-buttons" }, V.bulkButtons)),
    V.tools,
    V.queueLoading,
    V.queueEmpty,
    V.filterEmpty,
    V.queueList,
    V.queueMore,
    el("datalist", { id: "drop-reasons" }, t.list("reasons").map((r) => el("option", { value: r }))));

  // Messages the automatic policies dropped: not in the queue, listed here.
  V.dropsList = el("ol", { id: "auto-drops-list", class: "auto-drops scroll", tabindex: "0", "aria-labelledby": "drops-title" });
  V.dropsEmpty = el("p", { class: "empty status" }, t("auto_drops_empty"));
  V.dropsMore = el("p", { class: "status", hidden: true });
  V.dropsCount = el("span", { class: "count", id: "auto-drops-count" }, "(0)");
  V.drops = el("section", { class: "drops-panel", id: "auto-drops", "aria-labelledby": "drops-title" },
    el("h2", { id: "drops-title" }, t("auto_drops_title"), " ", V.dropsCount),
    el("p", { class: "status intro" }, t("auto_drops_intro")),
    V.dropsEmpty, V.dropsMore, V.dropsList);

  // Shield mode: a banner while it is up; raised from here.
  V.shieldText = el("p", { class: "shield-text", id: "shield-text", role: "status" });
  V.shieldDetail = el("p", { class: "shield-detail", hidden: true });
  V.shieldLower = el("button", { type: "button", id: "shield-lower", class: "small shield-lower", hidden: true, onclick: lowerShield },
    t("shield_lower"));
  V.shieldOpen = el("button", { type: "button", id: "shield-open", class: "small secondary", "aria-expanded": "false",
    "aria-controls": "shield-form", onclick: () => toggleShieldForm(true) }, t("shield_open"));
  V.shieldReason = el("input", { id: "shield-reason", autocomplete: "off", maxlength: "300" });
  V.shieldClosed = el("input", { type: "checkbox", id: "shield-closed" });
  V.shieldForm = el("form", { class: "shield-form", id: "shield-form", hidden: true, onsubmit: raiseShield },
    el("p", { class: "status" }, t("shield_explain")),
    field(t("shield_reason"), V.shieldReason),
    el("p", { class: "toggle" }, V.shieldClosed, el("label", { for: "shield-closed" }, t("shield_closed_label"))),
    el("div", { class: "form-buttons" },
      el("button", { type: "submit", class: "small danger" }, t("shield_raise")),
      button(t("cancel"), { cls: "small secondary", suffix: `: ${t("shield_raise")}`, onclick: () => toggleShieldForm(false, true) })));
  V.shieldForm.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); toggleShieldForm(false, true); } });
  V.shield = el("section", { class: "shield", id: "shield", "aria-labelledby": "shield-title", "data-on": "false" },
    el("h2", { id: "shield-title", class: "visually-hidden" }, t("shield_title")),
    el("div", { class: "shield-row" },
      el("div", { class: "shield-words" }, V.shieldText, V.shieldDetail),
      el("div", { class: "shield-buttons" }, V.shieldLower, V.shieldOpen)),
    V.shieldForm);

  // Published stream.
  V.staffInput = el("input", { id: "staff-message", autocomplete: "off", maxlength: "400" });
  V.streamList = el("ol", { id: "stream-list", class: "stream scroll", tabindex: "0", "aria-labelledby": "stream-title" });
  V.streamEmpty = el("p", { class: "empty status" }, t("stream_empty"));
  V.stream = el("section", { class: "stream-panel", id: "stream", "aria-labelledby": "stream-title" },
    el("h2", { id: "stream-title" }, t("stream_title")),
    el("form", { class: "staff-form", onsubmit: onStaffMessage },
      el("label", { for: "staff-message" }, t("staff_message")),
      el("div", { class: "inline" }, V.staffInput, el("button", { type: "submit", class: "small" }, t("send")))),
    V.streamEmpty,
    V.streamList);

  // Audience.
  V.filter = el("input", { id: "audience-filter", type: "search", autocomplete: "off", oninput: onFilterInput });
  V.filterLabel = el("label", { for: "audience-filter" }, t("filter_audience"));
  V.staffList = el("ul", { class: "members staff-list", "aria-label": t("staff") });
  V.visitorList = el("ul", { class: "members visitor-list", id: "visitor-list", "aria-label": t("visitors") });
  V.audienceEmpty = el("p", { class: "empty status" }, t("audience_empty"));
  V.audienceMore = el("p", { class: "status", hidden: true });
  V.audienceMoreButton = el("button", { type: "button", id: "audience-more", class: "small secondary", hidden: true,
    onclick: () => loadAudience(true) });
  V.audienceNote = el("p", { class: "status audience-note", id: "audience-note", hidden: true });
  V.audienceShown = el("p", { class: "status", id: "audience-shown", role: "status", hidden: true });
  V.audienceCount = el("span", { class: "count" });
  V.audience = el("section", { class: "audience-panel", id: "audience", "aria-labelledby": "audience-title" },
    el("h2", { id: "audience-title" }, t("audience_title"), " ", V.audienceCount),
    V.audienceNote,
    el("div", { class: "field" }, V.filterLabel, V.filter),
    el("h3", {}, t("staff")), V.staffList,
    el("h3", {}, t("visitors")), V.audienceShown, V.audienceEmpty, V.visitorList, V.audienceMore, V.audienceMoreButton);

  // Bans and mutes.
  V.bansList = el("ul", { id: "bans-list", class: "bans" });
  V.bansEmpty = el("p", { class: "empty status" }, t("no_bans"));
  V.bans = el("section", { class: "bans-panel", id: "bans", "aria-labelledby": "bans-title" },
    el("div", { class: "panel-head" }, el("h2", { id: "bans-title" }, t("bans_title")),
      button(t("refresh"), { cls: "small secondary", suffix: `: ${t("bans_title")}`, onclick: refreshBans })),
    V.bansEmpty, V.bansList);

  // Keyboard help.
  V.shortcutsToggle = el("input", { type: "checkbox", id: "shortcuts-on", checked: true,
    onchange: () => { S.shortcuts = V.shortcutsToggle.checked; } });
  const keys = [["j", "key_j"], ["k", "key_k"], ["a", "key_a"], ["d", "key_d"], ["e", "key_e"], ["f", "key_f"],
    ["h", "key_h"], ["c", "key_c"], ["x", "key_x"], ["Shift + J", "key_J"], ["Shift + K", "key_K"], ["t", "key_t"],
    ["n", "key_n"], ["?", "key_help"], ["Esc", "key_esc"]];
  V.help = el("section", { class: "help-panel", id: "help", tabindex: "-1", "aria-labelledby": "help-title" },
    el("h2", { id: "help-title" }, t("help_title")),
    el("p", {}, t("help_intro")),
    el("p", { class: "toggle" }, V.shortcutsToggle, el("label", { for: "shortcuts-on" }, t("shortcuts_enabled"))),
    el("dl", { class: "keys" }, keys.map(([key, word]) => el("div", {}, el("dt", {}, el("kbd", {}, key)), el("dd", {}, t(word))))));

  V.console = el("div", { id: "console", class: "console", hidden: true },
    V.topbar, V.schedule, V.alerts, V.shield, V.stats,
    el("div", { class: "columns" }, V.queue, el("div", { class: "side" }, V.drops, V.stream, V.audience, V.bans, V.controls)),
    V.help, V.confirm);
  renderShield();

  main.append(V.login, V.console, V.announce);
  V.account.focus();
}

// ------------------------------------------------------------------ announcements

let announceTimer = null;
function announce(text) {
  clearTimeout(announceTimer);
  V.announce.textContent = "";
  announceTimer = setTimeout(() => { V.announce.textContent = text; }, 50);
}

// An alert; with `retry`, a Retry button too, and it stays until used or
// dismissed (the others go after 20 seconds).
function showAlert(text, kind = "error", retry = null) {
  const note = el("p", { class: `alert ${kind}` }, el("span", { class: "alert-text" }, text));
  if (retry) note.append(button(t("retry"), { cls: "small retry", onclick: () => { note.remove(); retry(); } }), " ");
  const close = button(t("dismiss"), { cls: "small secondary dismiss", onclick: () => note.remove() });
  note.append(close);
  V.alerts.append(note);
  while (V.alerts.children.length > 4) V.alerts.firstElementChild.remove();
  if (!retry) setTimeout(() => note.remove(), 20000);
}

// ------------------------------------------------------------------ sign in / out

function onLogin(event) {
  event.preventDefault();
  const account = V.account.value.trim();
  const password = V.password.value;
  V.loginError.textContent = "";
  if (!account || !password) {
    V.loginError.textContent = t("login_missing");
    (account ? V.password : V.account).focus();
    return;
  }
  V.loginButton.disabled = true;
  V.loginButton.textContent = t("signing_in");
  startSession(account, password);
}

function loginFailed(text) {
  V.loginButton.disabled = false;
  V.loginButton.textContent = t("sign_in");
  V.loginError.textContent = text;
  V.password.value = "";
  V.password.focus();
}

function startSession(account, password) {
  if (S.irc) S.irc.close();
  S.account = account;
  S.loginFailed = false;
  S.everRegistered = false;
  const caps = [...DEFAULT_CAPS, "userhost-in-names", "extended-join"];
  const irc = new ModeratorIrc({ nick: account, account, password, caps });
  S.irc = irc;
  const mine = (fn) => (...args) => { if (S.irc === irc) fn(...args); };
  irc.on("loginfailed", mine(() => {
    // Also after a reconnection (the password was changed meanwhile):
    // back to the sign-in form.
    S.loginFailed = true;
    if (S.everRegistered) signOut();
    irc.close();
    S.irc = null;
    loginFailed(t("login_failed"));
  }));
  irc.on("registered", mine(onRegistered));
  irc.on("state", mine(onConnState));
  irc.on("close", mine(() => {
    if (!S.everRegistered && !S.loginFailed) {
      irc.close();
      S.irc = null;
      loginFailed(t("connect_failed"));
    }
  }));
  irc.on("serverError", mine((text) => { if (S.everRegistered) showAlert(plainText(text)); }));
  irc.on("message", mine(onMessage));
  irc.connect();
}

function onRegistered() {
  const first = !S.everRegistered;
  S.everRegistered = true;
  if (first) {
    V.password.value = "";
    V.loginButton.disabled = false;
    V.loginButton.textContent = t("sign_in");
    V.login.hidden = true;
    V.console.hidden = false;
    V.who.textContent = t("signed_in_as", { account: S.account });
  }
  startConference(first);
}

function onConnState(state, detail) {
  const text = state === "reconnecting" && detail ? t("conn_reconnecting", { s: detail })
    : state === "reconnecting" ? t("conn_reconnecting_now") : t(`conn_${state}`);
  V.conn.textContent = text;
  V.conn.className = `conn conn-${state}`;
  if (state !== "registered") {
    S.joined = false;
    V.console.dataset.ready = "false";
  }
}

function signOut() {
  if (S.irc) S.irc.close();
  S.irc = null;
  S.everRegistered = false;
  resetConference();
  V.console.hidden = true;
  V.login.hidden = false;
  V.alerts.replaceChildren();
  V.account.focus();
}

// ------------------------------------------------------------------ conferences

// A request of the console's own (loading, refreshing): its replies, or
// null when it got none in time, after an alert offering to `retry`. (A
// connection that closed is reconnected, and the conference then loaded
// again: no alert.)
async function load(command, params, retry) {
  const irc = S.irc;
  try {
    return await irc.request(command, params);
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    if (irc === S.irc && error.reason === "timeout") showAlert(unansweredText(error, "load"), "error", retry);
    return null;
  }
}

async function startConference(fresh) {
  if (!(await loadConferences())) return;
  if (S.channel) joinConference(fresh);
  else showAlert(t("no_conference"));
}

async function loadConferences() {
  const replies = await load("CONF", ["LIST"], () => { if (online()) startConference(false); });
  if (!replies) return false;
  const list = replies.map(parseConf).filter((line) => line && line.type === "list");
  V.confSelect.replaceChildren(...list.map((c) => el("option", { value: c.channel }, `${plainText(c.title || c.channel)} (${c.channel})`)));
  if (!S.channel && list.length) S.channel = list[0].channel;
  if (S.channel && !list.some((c) => fold(c.channel) === fold(S.channel))) {
    V.confSelect.append(el("option", { value: S.channel }, S.channel));
  }
  V.confSelect.value = S.channel;
  V.confForm.hidden = list.length < 2;
  return true;
}

function resetConference() {
  S.gen += 1;
  S.paging = false;
  S.listing = false;
  S.queueTotal = 0;
  S.namesOpen = false;
  S.namesNote = null;
  S.namesAsked = false;
  clearTimeout(S.audience.timer);
  S.audience = newAudience();
  V.filter.value = "";
  S.items.forEach((item) => { if (item.node) item.node.remove(); });
  S.items.clear();
  S.window = QUEUE_WINDOW;
  S.checked.clear();
  S.selected = null;
  S.members.forEach((m) => m.node.remove());
  S.members.clear();
  S.messages.clear();
  S.questions.clear();
  V.streamList.replaceChildren();
  V.bansList.replaceChildren();
  S.info = {};
  for (const control of [V.stateSelect, V.modeSelect, V.slowInput]) delete control.dataset.edited;
  S.answering = null;
  S.joined = false;
  S.role = "";
  S.autoDrops = [];
  S.autoDropIds.clear();
  S.autoDropTotal = 0;
  S.shield = { on: false, closed: false, by: null, reason: "" };
  if (V.confirm.open) V.confirm.close();
  V.console.dataset.ready = "false";
  renderAutoDrops();
  renderShield();
  scheduleRender();
  scheduleAudience();
}

function openConference(channel) {
  if (!channel || fold(channel) === fold(S.channel)) return;
  if (online() && S.channel) S.irc.send("PART", [S.channel]);
  resetConference();
  S.channel = channel;
  if (online()) joinConference(true);
}

const moderating = () => S.role === "moderator" || S.role === "admin";

// Loading a conference: it is ready (data-ready) once the first page of
// each listing is in; the later pages follow in the background.
async function joinConference(fresh) {
  const irc = S.irc;
  const channel = S.channel;
  V.console.dataset.ready = "false";
  if (!fresh) {
    // After a reconnection the server's view wins: rebuild everything.
    resetConference();
    S.channel = channel;
  }
  const gen = S.gen;
  const current = () => irc === S.irc && channel === S.channel && gen === S.gen;
  const retry = () => { if (current() && online()) joinConference(false); };
  if (!(await load("JOIN", [channel], retry)) || !current()) return;
  if (!(await refreshInfo(retry)) || !current()) return;
  if (moderating() || S.role === "guest") {
    if (!(await refreshQuestions(retry)) || !current()) return;
  }
  if (moderating()) {
    if (!(await loadQueue(retry)) || !current()) return;
    refreshBans();
    if (S.audience.large) loadAudience();
  } else {
    showAlert(`${t("not_moderator", { account: S.account, channel })}${S.role === "guest" ? ` ${t("guest_hint")}` : ""}`);
  }
  if (!current()) return;
  S.joined = true;
  scheduleRender();
  V.console.dataset.ready = "true";
}

async function refreshInfo(retry) {
  const replies = await load("CONF", [S.channel, "INFO"], retry);
  if (!replies) return false;
  Object.assign(S.info, conferenceInfo(replies));
  if (S.info.role) S.role = S.info.role;
  V.adminLink.hidden = S.role !== "admin"; // web administration (/admin)
  if (S.info.now_answering) setAnswering(S.info.now_answering);
  shieldFromInfo(S.info);
  renderInfo();
  return true;
}

// Votes and answered marks of the questions replayed at join: the first
// page now, the others after.
async function refreshQuestions(retry) {
  const channel = S.channel;
  const replies = await load("CONF", [channel, "QUESTIONS"], retry);
  if (!replies) return false;
  questionsPage(replies);
  followPages("CONF", nextPage(replies, "CONF"), (from) => load("CONF", [channel, "QUESTIONS", String(from)]), questionsPage);
  return true;
}

function questionsPage(replies) {
  for (const line of replies.map(parseConf)) {
    if (!line || line.type !== "question") continue;
    const entry = S.messages.get(line.msgid) || S.questions.get(line.id);
    if (!entry) continue;
    entry.votes = line.votes;
    if (line.status === "answered") entry.status = "answered";
    renderEntry(entry);
  }
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// The pages of a `command` listing (QUEUE or CONF) after its first, from
// `next` (the first page's MORE line; null: it had no more):
// `request(from)` asks for the page at `from` (its replies, or null when
// unanswered), `handle(replies)` takes it in, `start(next)` says where to
// start from at that moment (a view kept up to date by the events may know
// better than the MORE line of a page asked for a while ago). Paced
// (PAGE_PAUSE_MS); it stops when the conference shown changes. Whether
// every page came.
async function followPages(command, next, request, handle, start = (n) => n) {
  const gen = S.gen;
  while (next) {
    await sleep(PAGE_PAUSE_MS);
    if (gen !== S.gen || !online()) return false;
    const from = start(next);
    const replies = await request(from);
    if (!replies || gen !== S.gen) return false;
    handle(replies);
    next = nextPage(replies, command);
  }
  return true;
}

// ------------------------------------------------------------------ loading the queue

// QUEUE LIST, a page at a time: the first page before the console is ready,
// the others streaming in after it (rendered as they come). Meanwhile the
// item events keep every position known exact (shiftPositions), so that
// the next page starts right after the known top of the queue: nothing is
// missed when the queue moves between two pages.
async function loadQueue(retry) {
  const channel = S.channel;
  const first = await listQueue(channel, null, retry);
  if (!first) return false;
  const next = nextPage(first, "QUEUE");
  if (next) pageQueue(channel, next);
  return true;
}

async function listQueue(channel, from, retry) {
  S.listing = true;
  let replies;
  try {
    replies = await load("QUEUE", from ? [channel, "LIST", String(from)] : [channel, "LIST"], retry);
  } finally {
    S.listing = false;
  }
  if (replies) {
    const end = replies.map(parseQueueEnd).find(Boolean);
    if (end) S.queueTotal = end.count;
    scheduleRender();
  }
  return replies;
}

async function pageQueue(channel, next) {
  const gen = S.gen;
  S.paging = true;
  const resume = (from) => () => { if (gen === S.gen && online()) pageQueue(channel, from); };
  const done = await followPages("QUEUE", next, (from) => listQueue(channel, from, resume(from)), () => {},
    (n) => Math.min(n, knownTop() + 1));
  // Unanswered: the alert's Retry goes on from that page (still paging).
  if (gen !== S.gen || !done) return;
  S.paging = false;
  renumber();
  scheduleRender();
}

// QUEUE <channel> END :<n> waiting
function parseQueueEnd(msg) {
  if (msg.command !== "QUEUE" || msg.params[1] !== "END") return null;
  return { count: parseInt(msg.params[2], 10) || 0 };
}

// How many questions from the top of the queue are all known: positions
// 1..n are there.
function knownTop() {
  const positions = new Set();
  for (const item of S.items.values()) if (undecided(item)) positions.add(item.pos);
  let n = 0;
  while (positions.has(n + 1)) n += 1;
  return n;
}

// While the later pages come: how far the queue is loaded.
function renderLoading(known) {
  V.queueLoading.hidden = !S.paging;
  if (S.paging) V.queueLoading.textContent = t("queue_loading", { known: number(known), total: number(waitingCount(known)) });
}

// Questions waiting: those known, or while the queue is still loading the
// count of its latest page (with the events since).
const waitingCount = (known) => (S.paging ? Math.max(known, S.queueTotal) : known);

const numberFormat = new Intl.NumberFormat(LOCALE);
const number = (n) => numberFormat.format(n);

function renderInfo() {
  const info = S.info;
  V.confTitle.textContent = "";
  V.confTitle.append(plainText(info.title || S.channel), " ", el("span", { class: "channel" }, `(${S.channel})`));
  const untouched = (control) => !control.dataset.edited;
  if (info.state && untouched(V.stateSelect)) V.stateSelect.value = info.state;
  if (info.mode && untouched(V.modeSelect)) V.modeSelect.value = info.mode;
  if (info.slow_mode !== undefined && untouched(V.slowInput)) V.slowInput.value = info.slow_mode || "0";
  V.stats.dataset.state = info.state || "";
  renderSchedule();
  V.statAnswering.textContent = S.answering ? t("item_id", { id: S.answering }) : t("none");
  document.title = info.title ? `${plainText(info.title)} – ${BASE_TITLE}` : BASE_TITLE;
}

// ------------------------------------------------------------------ schedule

const timeFormat = new Intl.DateTimeFormat(LOCALE, { hour: "2-digit", minute: "2-digit" });

// Under the title: the conference's times in local time, what visitors
// can do now, and, while it is scheduled, a button that opens the lobby
// (questions collected before the session) at once.
function buildSchedule() {
  V.confNow = el("p", { id: "conf-now", class: "conf-now" });
  V.scheduleTimes = el("dl", { id: "conf-schedule", class: "schedule-times" });
  V.scheduleNone = el("p", { class: "schedule-none", hidden: true }, t("no_schedule"));
  V.openLobby = el("button", { type: "button", id: "open-lobby", class: "small", hidden: true, onclick: openLobby },
    t("open_lobby"));
  V.schedule = el("section", { class: "schedule", id: "schedule", "aria-labelledby": "schedule-title" },
    el("h2", { id: "schedule-title", class: "visually-hidden" }, t("schedule_title")),
    el("div", { class: "schedule-words" }, V.confNow, V.scheduleTimes, V.scheduleNone),
    V.openLobby);
}

// A schedule time: the time alone when it is today, else date and time.
function scheduleTime(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  const today = new Date();
  return when.toDateString() === today.toDateString() ? timeFormat.format(when) : dateFormat.format(when);
}

// The first of these schedule times still ahead, or "".
function nextTime(...keys) {
  const now = serverNow();
  for (const key of keys) {
    const when = Date.parse(S.info[key] || "");
    if (!Number.isNaN(when) && when > now) return S.info[key];
  }
  return "";
}

function visitorsNow() {
  const { state, mode } = S.info;
  if (state === "scheduled") {
    const opens = nextTime("opens", "starts");
    return opens ? t("now_scheduled_at", { time: scheduleTime(opens) }) : t("now_scheduled");
  }
  if (state === "closed") return t("now_closed");
  if (mode === "readonly") return t("now_readonly");
  if (state === "open") {
    const starts = nextTime("starts");
    return starts ? t("now_open_until", { time: scheduleTime(starts) }) : t("now_open");
  }
  if (state === "live") {
    const ends = nextTime("ends");
    return ends ? t("now_live_until", { time: scheduleTime(ends) }) : t("now_live");
  }
  return "";
}

function renderSchedule() {
  const state = S.info.state || "";
  V.schedule.dataset.state = state;
  V.confNow.textContent = visitorsNow();
  const rows = [];
  for (const key of ["opens", "starts", "ends"]) {
    const iso = S.info[key];
    if (!iso) continue;
    rows.push(el("div", {}, el("dt", {}, t(`sched_${key}`)),
      el("dd", {}, el("time", { datetime: iso, title: dateFormat.format(new Date(iso)) }, scheduleTime(iso)))));
  }
  V.scheduleTimes.replaceChildren(...rows);
  V.scheduleTimes.hidden = !rows.length;
  V.scheduleNone.hidden = rows.length > 0 || !state;
  V.openLobby.hidden = !(state === "scheduled" && moderating());
}

async function openLobby() {
  V.openLobby.disabled = true;
  const done = await act("CONF", [S.channel, "STATE", "open"], t("lobby_opened"));
  V.openLobby.disabled = false;
  if (done) {
    S.info.state = "open";
    renderInfo();
  }
}

// ------------------------------------------------------------------ incoming lines

function onMessage(msg) {
  if (msg.tags.time) {
    const stamp = Date.parse(msg.tags.time);
    if (!Number.isNaN(stamp) && !msg.tags.batch) S.skew = stamp - Date.now();
  }
  switch (msg.command) {
    case "QUEUE": {
      const line = parseQueueItem(msg);
      // A page of QUEUE LIST comes in its labelled batch (an event, alone).
      const listing = S.listing && (!!msg.tags.batch || !S.irc.caps.has("labeled-response"));
      if (line && sameChannel(line.channel)) onItem({ ...line, ...parseFindings(msg) }, listing);
      break;
    }
    case "PRIVMSG":
    case "NOTICE":
      if (sameChannel(msg.params[0])) onChannelMessage(msg);
      break;
    case "REDACT":
      if (sameChannel(msg.params[0])) onRedact(msg);
      break;
    case "CONF":
      onConf(msg);
      break;
    case "TOPIC":
      if (sameChannel(msg.params[0])) { S.info.title = msg.params[1] || ""; renderInfo(); }
      break;
    case "353":
      if (sameChannel(msg.params[2])) onNames(msg.params[3] || "");
      break;
    case "366":
      if ((S.namesOpen || S.namesNote !== null) && sameChannel(msg.params[1])) endNames();
      break;
    case "JOIN":
    case "PART":
    case "KICK":
    case "QUIT":
    case "NICK":
    case "MODE":
      onMembership(msg);
      break;
    case "FAIL":
      onFail(msg);
      break;
    case "NOTE":
      onNote(msg);
      break;
    default:
      if (/^[45]\d\d$/.test(msg.command) && S.irc && S.irc.registered && msg.command !== "433") {
        showAlert(plainText(msg.params[msg.params.length - 1] || msg.command));
      }
  }
}

function onFail(msg) {
  const { command, code, id, ...reply } = parseReply(msg);
  const description = plainText(reply.description || code);
  let text = description;
  if (command === "QUEUE" && t.has(`fail_${code}`)) {
    const item = S.items.get(id);
    const decided = /already (\w+)(?: by (\S+))?/.exec(description);
    const claimed = / by (\S+)$/.exec(description);
    const stateWord = (name) => (t.has(`state_${name}`) ? t(`state_${name}`).toLowerCase() : name);
    if (code === "ALREADY_DECIDED" && decided) {
      text = t("fail_ALREADY_DECIDED", { id, state: stateWord(decided[1]), by: decided[2] ? t("by_who", { who: decided[2] }) : "" });
    } else if (code === "CLAIMED" && claimed) {
      text = t("fail_CLAIMED", { id, who: claimed[1] });
    } else if (code === "QUEUE_EMPTY") {
      text = t("fail_QUEUE_EMPTY");
    } else if (code === "WRONG_STATE" && item) {
      text = t("fail_WRONG_STATE", { id, state: stateWord(item.state) });
    }
  }
  showAlert(text);
}

function onNote(msg) {
  const reply = parseReply(msg);
  const { command, code } = reply;
  const description = plainText(reply.description);
  if (command === "JOIN" && code === "CONFERENCE" && sameChannel(reply.channel)) {
    S.info.state = reply.state;
    S.info.mode = reply.mode;
    S.role = reply.role;
    renderInfo();
  } else if (command === "CONF") {
    // (The shield's banner is a status of its own: it says it.)
    if (code !== "SHIELD") announce(description);
    if (["BAN", "UNBAN", "MUTE", "UNMUTE"].includes(code) && sameChannel(reply.channel)) refreshBans();
  } else if (command === "NAMES" && code === "AUDIENCE" && sameChannel(reply.channel)) {
    S.namesNote = reply.audience; // a large audience (for staff): the NAMES ends with this count
  } else if (code === "RATE_LIMITED") {
    showAlert(description, "warn");
  }
}

function onConf(msg) {
  const line = parseConf(msg);
  if (!line || !sameChannel(line.channel)) return;
  if (line.type === "votes") {
    const entry = S.questions.get(line.id);
    if (entry) { entry.votes = line.votes; renderEntry(entry); }
  } else if (line.type === "shield") {
    onShield(line);
  }
}

// ------------------------------------------------------------------ the queue

function onItem(line, listing = false) {
  const { id, state, author, submitted, claimed, decided, flags, text, score, reasons } = line;
  let item = S.items.get(id);
  if (!UNDECIDED.has(state)) {
    if (line.redacted) markQuestionRedacted(id);
    if (state === "dropped" && isPolicy(decided)) addAutoDrop(line);
    if (!item || item.decidedAt) {
      if (item) { Object.assign(item, { flags, score, reasons }); item.dirty = true; scheduleRender(); }
      return;
    }
    // Where the keyboard goes next, in the order shown, before it changes.
    const shown = shownOrder();
    const after = shown.slice(shown.indexOf(item) + 1).find(undecided);
    const was = item.pos;
    Object.assign(item, { state, decided, claimed, flags, score, reasons, text, decidedAt: Date.now(),
      sortKey: item.pos - 0.5, pos: 0, dirty: true });
    S.checked.delete(id);
    if (S.paging) {
      shiftPositions(item, was, null);
      S.queueTotal -= 1;
    } else {
      renumber();
    }
    if (!isMe(decided) && (S.selected === id || (item.node && item.node.contains(document.activeElement)))) {
      announce(t("decided_elsewhere", { id, state: t(`state_${state}`).toLowerCase(), who: decided }));
    }
    if (isMe(decided) && S.selected === id) {
      // Decided here: the keyboard moves on to the next waiting question.
      const next = after || shownOrder().filter(undecided).pop();
      if (next) selectItem(next.id, !!item.node && document.activeElement === item.node);
    }
    scheduleRender();
    return;
  }
  const isNew = !item;
  const was = isNew || !undecided(item) ? null : item.pos;
  if (isNew) {
    item = { id, n: null, node: null, dirty: true }; // its node: once it is in the window (renderQueue)
    S.items.set(id, item);
    if (!listing) noteNewItem(author);
  }
  Object.assign(item, { state, pos: line.position, author, submitted, claimed, decided, flags, score, reasons, text, dirty: true });
  if (listing) {
    item.sortKey = item.pos; // LIST gives every position, in order
  } else if (S.paging) {
    shiftPositions(item, was, item.pos);
    if (isNew) S.queueTotal += 1;
  } else {
    renumber(item);
  }
  scheduleRender();
}

// While the queue is still loading, the questions known are not all the
// questions: a change moves the others as the server moves them (those
// below where it left go up one, those from where it arrives go down one),
// keeping every known position exact.
function shiftPositions(changed, from, to) {
  for (const other of S.items.values()) {
    if (other === changed || !undecided(other)) continue;
    let pos = other.pos;
    if (from !== null && pos > from) pos -= 1;
    if (to !== null && pos >= to) pos += 1;
    if (pos !== other.pos) { other.pos = pos; other.dirty = true; }
    other.sortKey = pos;
  }
  if (to !== null) changed.sortKey = changed.pos;
}

// A line carries only the item that changed: the others' positions follow
// (positions are ranks among the undecided questions).
function renumber(changed = null) {
  const order = [...S.items.values()]
    .filter((i) => undecided(i) && i !== changed)
    .sort((a, b) => a.pos - b.pos || a.id - b.id);
  if (changed && undecided(changed)) order.splice(Math.max(0, Math.min(order.length, changed.pos - 1)), 0, changed);
  order.forEach((i, index) => {
    if (i.pos !== index + 1) { i.pos = index + 1; i.dirty = true; }
    i.sortKey = i.pos;
  });
}

function noteNewItem(author) {
  S.newCount += 1;
  S.lastAuthor = author;
  if (S.newTimer) return;
  S.newTimer = setTimeout(() => {
    announce(S.newCount === 1 ? t("new_item", { author: S.lastAuthor }) : t("new_items", { n: S.newCount }));
    S.newCount = 0;
    S.newTimer = null;
  }, 1500);
}

const undecided = (item) => UNDECIDED.has(item.state) && !item.decidedAt;
const sortedItems = () => [...S.items.values()].sort((a, b) => a.sortKey - b.sortKey || a.id - b.id);
const sortedUndecided = () => sortedItems().filter(undecided);

// ------------------------------------------------------------------ what the policies found

const isPolicy = (who) => !!who && who.startsWith("policy:");
// The flags the automatic moderation set ("redacted" is the moderators' own).
const policyFlags = (item) => (item.flags || []).filter((f) => f !== "redacted");
const scoreFormat = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 2 });

function matchesFilter(item) {
  const flags = policyFlags(item);
  if (S.filter === "flagged") return flags.length > 0;
  if (S.filter === "unflagged") return flags.length === 0;
  if (S.filter.startsWith("flag:")) return flags.includes(S.filter.slice(5));
  return true;
}

// The queue as shown: queue order, or the highest score first (ties in
// queue order); then the filter.
function displayOrder() {
  const order = sortedItems();
  if (S.sort === "score") order.sort((a, b) => (b.score || 0) - (a.score || 0) || a.sortKey - b.sortKey || a.id - b.id);
  return order;
}
const shownOrder = () => displayOrder().filter(matchesFilter);

function setFilter(value) {
  S.filter = value || "all";
  if (V.filterSelect.value !== S.filter) V.filterSelect.value = S.filter;
  // A ticked question the filter hides is not acted on by the bulk buttons.
  for (const id of [...S.checked]) {
    const item = S.items.get(id);
    if (!item || !matchesFilter(item)) { S.checked.delete(id); if (item) item.dirty = true; }
  }
  scheduleRender();
}

function setSort(value) {
  S.sort = value === "score" ? "score" : "queue";
  for (const item of S.items.values()) item.dirty = true; // the move buttons come and go
  scheduleRender();
}

// The filter's options: all, flagged, unflagged, then one per flag seen
// among the questions (the chosen one stays even once no question has it).
function renderFilterOptions(flagNames) {
  const names = [...new Set([...flagNames, ...(S.filter.startsWith("flag:") ? [S.filter.slice(5)] : [])])].sort();
  const key = names.join(",");
  if (V.filterSelect.options.length && key === S.flagKey) return;
  S.flagKey = key;
  V.flagGroup.replaceChildren(...names.map((name) => el("option", { value: `flag:${name}` }, t("filter_flag", { flag: name }))));
  V.filterSelect.replaceChildren(
    el("option", { value: "all" }, t("filter_all")),
    el("option", { value: "flagged" }, t("filter_flagged")),
    el("option", { value: "unflagged" }, t("filter_unflagged")),
    names.length ? V.flagGroup : null);
  V.filterSelect.value = S.filter;
}

function flagBadge(flag) {
  const alert = ALERT_FLAGS.includes(flag);
  const cls = alert ? " flag-alert" : flag === SCREENING_FLAG ? " flag-screening" : flag === "shield" ? " flag-shield" : "";
  const about = t.has(`flag_${flag}`) ? t(`flag_${flag}`) : null;
  return el("span", { class: `badge flag${cls}`, "data-flag": flag, title: about },
    hiddenText(t("flag_label")), flag, about ? hiddenText(` (${about})`) : null);
}

// The score and the reasons, under a question's text (or a drop's).
function findingsNodes(item) {
  const nodes = [];
  const flags = policyFlags(item);
  for (const flag of flags) {
    if (t.has(`flag_${flag}_note`)) nodes.push(el("p", { class: `flag-note flag-note-${flag}` }, t(`flag_${flag}_note`)));
  }
  if (item.score !== null && item.score !== undefined && (item.score || flags.length)) {
    nodes.push(el("span", { class: "score" }, t("score", { score: scoreFormat.format(item.score) })));
  }
  if (item.reasons && item.reasons.length) {
    nodes.push(el("ul", { class: "reasons", "aria-label": t("reasons_label") },
      item.reasons.map((reason) => el("li", { dir: "auto" }, plainText(reason)))));
  }
  return nodes;
}

// ------------------------------------------------------------------ automatic drops

function addAutoDrop(line) {
  if (S.autoDropIds.has(line.id)) return;
  S.autoDropIds.add(line.id);
  S.autoDropTotal += 1;
  S.autoDrops.unshift({ ...line, at: new Date(serverNow()) });
  while (S.autoDrops.length > AUTO_DROPS_MAX) S.autoDropIds.delete(S.autoDrops.pop().id);
  renderAutoDrops();
}

function renderAutoDrops() {
  V.dropsCount.textContent = `(${S.autoDropTotal})`;
  V.dropsEmpty.hidden = S.autoDrops.length > 0;
  V.dropsMore.hidden = S.autoDropTotal <= S.autoDrops.length;
  V.dropsMore.textContent = t("auto_drops_more", { n: S.autoDrops.length, total: S.autoDropTotal });
  const nodes = S.autoDrops.map((drop) => {
    if (!drop.node) {
      const time = clockFormat.format(drop.at);
      drop.node = el("li", { class: "auto-drop", "data-id": drop.id },
        el("p", { class: "msg-meta" },
          el("time", { datetime: drop.at.toISOString() }, time), " ",
          el("span", { class: "nick", dir: "auto" }, plainText(drop.author)), " ",
          el("span", { class: "status" }, t("dropped_by_policy", { policy: drop.decided.slice(7), id: drop.id })), " ",
          el("span", { class: "badges" }, policyFlags(drop).map(flagBadge))),
        el("p", { class: "message-text", dir: "auto" }, plainText(drop.text)),
        el("div", { class: "findings" }, findingsNodes({ ...drop, flags: [] })));
    }
    return drop.node;
  });
  syncList(V.dropsList, nodes);
  V.dropsList.hidden = nodes.length === 0;
}

function createItemNode(item) {
  const id = item.id;
  const base = `item-${id}`;
  const n = {};
  n.check = el("input", { type: "checkbox", id: `${base}-check`, class: "item-check",
    onchange: () => { if (n.check.checked) S.checked.add(id); else S.checked.delete(id); renderBulk(); } });
  n.grip = el("span", { class: "grip", draggable: "true", "aria-hidden": "true", title: t("drag_hint") }, "⠿");
  n.author = el("button", { type: "button", class: "author linklike", dir: "auto", onclick: () => focusMember(item.author) });
  n.idText = el("span", { class: "item-id" });
  n.pos = el("span", { class: "pos" });
  n.age = el("span", { class: "age" });
  n.stateBadge = el("span", { class: "badge" });
  n.claim = el("span", { class: "badge claim", hidden: true });
  n.flags = el("span", { class: "flags", hidden: true });
  n.findings = el("div", { class: "findings", id: `${base}-findings`, hidden: true });
  n.reason = el("span", { class: "reason", hidden: true });
  n.text = el("p", { class: "message-text", id: `${base}-text`, dir: "auto" });

  // The editor and the drop form are made when first opened (ensureForms):
  // thousands of forms in a page slow down everything (the browser looks
  // through every form whenever one is added, for autofill).
  n.editor = null;
  n.dropper = null;

  const suffix = t("suffix", { id });
  n.approve = button(t("approve"), { cls: "small approve", suffix, onclick: () => queueAction("APPROVE", item) });
  n.edit = button(t("edit"), { cls: "small secondary", suffix, onclick: () => openEditor(item) });
  n.drop = button(t("drop_open"), { cls: "small secondary danger-outline", suffix, onclick: () => openDropper(item) });
  n.drop.setAttribute("aria-expanded", "false");
  n.edit.setAttribute("aria-expanded", "false");
  n.forward = button(t("forward"), { cls: "small secondary", suffix, onclick: () => queueAction("FORWARD", item) });
  n.hold = button(t("hold"), { cls: "small secondary", suffix, onclick: () => queueAction("HOLD", item) });
  n.unhold = button(t("unhold"), { cls: "small secondary", suffix, onclick: () => queueAction("UNHOLD", item) });
  n.claimBtn = button(t("claim"), { cls: "small secondary", suffix, onclick: () => queueAction("CLAIM", item) });
  n.unclaim = button(t("unclaim"), { cls: "small secondary", suffix, onclick: () => queueAction("UNCLAIM", item) });
  n.takeover = button(t("takeover"), { cls: "small secondary", suffix, onclick: () => queueAction("TAKEOVER", item) });
  n.top = iconButton("⤒", t("move_top", { id }), () => moveItem(item, "top"));
  n.up = iconButton("↑", t("move_up", { id }), () => moveItem(item, item.pos - 1));
  n.down = iconButton("↓", t("move_down", { id }), () => moveItem(item, item.pos + 1));
  n.bottom = iconButton("⤓", t("move_bottom", { id }), () => moveItem(item, "bottom"));
  n.moves = el("span", { class: "moves" }, n.top, n.up, n.down, n.bottom);

  n.li = el("li", { class: "item", id: base, tabindex: "-1", "data-id": id },
    el("div", { class: "item-head" },
      el("span", { class: "check" }, n.check, el("label", { for: n.check.id, class: "visually-hidden" }, t("select_item", { id }))),
      n.grip,
      el("h3", { class: "item-title", id: `${base}-head` }, n.author),
      el("span", { class: "meta" }, n.idText, n.pos, n.age),
      el("span", { class: "badges" }, n.stateBadge, n.claim, n.flags)),
    n.text, n.findings, n.reason,
    n.actions = el("div", { class: "actions", role: "group", "aria-label": t("item_actions", { id }) },
      n.approve, n.edit, n.drop, n.forward, n.hold, n.unhold, n.claimBtn, n.unclaim, n.takeover, n.moves));
  n.li.addEventListener("focusin", () => { if (S.selected !== id) selectItem(id, false); });
  n.li.addEventListener("click", (e) => { if (e.target === n.li || e.target === n.text) selectItem(id, false); });

  // Drag and drop by the grip, onto another question (above or below its middle).
  n.grip.addEventListener("dragstart", (e) => {
    S.dragId = id;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", `#${id}`);
    e.dataTransfer.setDragImage(n.li, 16, 16);
    n.li.classList.add("dragging");
  });
  n.grip.addEventListener("dragend", () => {
    S.dragId = null;
    n.li.classList.remove("dragging");
    clearDropMarks();
  });
  n.li.addEventListener("dragover", (e) => {
    if (!S.dragId || S.dragId === id || !undecided(item)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    const rect = n.li.getBoundingClientRect();
    const before = e.clientY < rect.top + rect.height / 2;
    clearDropMarks();
    n.li.classList.add(before ? "drop-before" : "drop-after");
  });
  n.li.addEventListener("drop", (e) => {
    if (!S.dragId || S.dragId === id || !undecided(item)) return;
    e.preventDefault();
    const rect = n.li.getBoundingClientRect();
    const before = e.clientY < rect.top + rect.height / 2;
    const dragged = S.items.get(S.dragId);
    clearDropMarks();
    if (!dragged) return;
    const order = sortedUndecided().filter((other) => other.id !== dragged.id);
    const index = order.findIndex((other) => other.id === id) + (before ? 0 : 1);
    moveItem(dragged, index + 1);
  });
  item.n = n;
  item.node = n.li;
}

// A question's editor and drop form, made the first time either is opened
// (both then, in their place above the actions).
function ensureForms(item) {
  const n = item.n;
  if (n.editor) return;
  const id = item.id;
  const base = `item-${id}`;
  n.editText = el("textarea", { id: `${base}-edit`, rows: "3", maxlength: "400" });
  n.editor = el("form", { class: "editor", id: `${base}-editor`, hidden: true, onsubmit: (e) => { e.preventDefault(); submitEdit(item); } },
    el("label", { for: n.editText.id }, t("edit_label", { id })), n.editText,
    el("div", { class: "form-buttons" },
      el("button", { type: "submit", class: "small" }, t("publish_edit")),
      button(t("cancel"), { cls: "small secondary", suffix: `: ${t("edit")}`, onclick: () => closeEditor(item, true) })));
  n.editor.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); closeEditor(item, true); }
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submitEdit(item); }
  });
  n.dropReason = el("input", { id: `${base}-reason`, list: "drop-reasons", autocomplete: "off", maxlength: "300" });
  n.dropper = el("form", { class: "dropper", id: `${base}-dropper`, hidden: true, onsubmit: (e) => { e.preventDefault(); submitDrop(item); } },
    el("label", { for: n.dropReason.id }, t("drop_reason")),
    el("div", { class: "inline" }, n.dropReason,
      el("button", { type: "submit", class: "small danger" }, t("confirm_drop", { id })),
      button(t("cancel"), { cls: "small secondary", suffix: `: ${t("drop")}`, onclick: () => closeDropper(item, true) })));
  n.dropper.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.preventDefault(); closeDropper(item, true); }
  });
  n.edit.setAttribute("aria-controls", n.editor.id);
  n.drop.setAttribute("aria-controls", n.dropper.id);
  n.li.insertBefore(n.editor, n.actions);
  n.li.insertBefore(n.dropper, n.actions);
}

const formOpen = (form) => !!form && !form.hidden;

function clearDropMarks() {
  for (const node of V.queueList.querySelectorAll(".drop-before, .drop-after")) node.classList.remove("drop-before", "drop-after");
}

function renderItem(item) {
  const n = item.n;
  const live = undecided(item);
  const flags = policyFlags(item);
  const marks = [
    flags.length ? " flagged" : "",
    flags.some((f) => ALERT_FLAGS.includes(f)) ? " flag-alert" : "",
    flags.includes(SCREENING_FLAG) ? " flag-screening" : "",
  ].join("");
  n.li.className = `item state-${item.state}${item.decidedAt ? " decided" : ""}${S.selected === item.id ? " selected" : ""}${item.claimed && !isMe(item.claimed) ? " claimed-other" : ""}${marks}`;
  n.li.setAttribute("aria-label", t("item_label", { id: item.id, author: plainText(item.author) }));
  if (S.selected === item.id) n.li.setAttribute("aria-current", "true");
  else n.li.removeAttribute("aria-current");
  n.author.textContent = plainText(item.author);
  n.author.title = t("author_actions", { nick: item.author });
  n.idText.textContent = t("item_id", { id: item.id });
  n.pos.textContent = live ? t("position", { pos: item.pos }) : "";
  n.pos.hidden = !live;
  n.stateBadge.textContent = item.decidedAt
    ? t("decided_by", { state: t(`state_${item.state}`), who: item.decided })
    : t(`state_${item.state}`);
  n.stateBadge.className = `badge state-badge badge-${item.state}`;
  const claimed = !!item.claimed;
  n.claim.hidden = !claimed || !!item.decidedAt;
  n.claim.textContent = claimed ? (isMe(item.claimed) ? t("claimed_by_you") : t("claimed_by", { who: item.claimed })) : "";
  n.claim.classList.toggle("mine", !!claimed && isMe(item.claimed));
  const flagKey = item.flags.join(",");
  if (n.flags.dataset.flags !== flagKey) {
    n.flags.dataset.flags = flagKey;
    n.flags.replaceChildren(
      ...(item.flags.includes("redacted") ? [el("span", { class: "badge flag" }, t("flag_redacted"))] : []),
      ...flags.map(flagBadge));
  }
  n.flags.hidden = !item.flags.length;
  const findingsKey = JSON.stringify([flags, item.score, item.reasons]);
  if (n.findings.dataset.key !== findingsKey) {
    n.findings.dataset.key = findingsKey;
    n.findings.replaceChildren(...findingsNodes(item));
  }
  n.findings.hidden = !n.findings.childNodes.length;
  const reason = S.dropReasons.get(item.id);
  n.reason.hidden = !(item.state === "dropped" && reason);
  n.reason.textContent = reason ? t("reason_was", { reason }) : "";
  if (n.text.textContent !== plainText(item.text)) n.text.textContent = plainText(item.text);
  n.grip.hidden = !live || S.sort !== "queue";
  n.li.draggable = false;
  n.check.disabled = !live;
  n.check.checked = S.checked.has(item.id);
  // Actions: a decided question keeps approve/edit/drop so that a late
  // click is answered by the server (who decided it), the rest goes.
  n.forward.hidden = !live || !["pending", "held"].includes(item.state);
  n.hold.hidden = !live || item.state !== "pending";
  n.unhold.hidden = !live || item.state !== "held";
  n.claimBtn.hidden = !live || claimed;
  n.unclaim.hidden = !live || !claimed || !isMe(item.claimed);
  n.takeover.hidden = !live || !claimed || isMe(item.claimed);
  n.moves.hidden = !live || S.sort !== "queue"; // moving is in queue order
  updateAge(item);
}

// (Only what changed is written: a long queue has thousands of these.)
function updateAge(item) {
  const age = item.n.age;
  if (age.hidden !== !!item.decidedAt) age.hidden = !!item.decidedAt;
  const seconds = serverNow() / 1000 - item.submitted;
  const text = t("waiting_for", { age: formatAge(seconds) });
  if (age.textContent !== text) age.textContent = text;
  if (age.dataset.submitted !== String(item.submitted)) {
    age.dataset.submitted = String(item.submitted);
    age.title = t("submitted_at", { time: clockFormat.format(new Date(item.submitted * 1000)) });
  }
  const late = undecided(item) && seconds >= 120;
  if (age.classList.contains("late") !== late) age.classList.toggle("late", late);
}

function scheduleRender() {
  if (S.renderQueued) return;
  S.renderQueued = true;
  const run = () => { S.renderQueued = false; renderQueue(); };
  if (document.hidden) setTimeout(run, 100);
  else requestAnimationFrame(run);
}

function renderQueue() {
  const order = displayOrder();
  // The window: every question in order up to the S.window-th waiting one
  // that the filter shows; the others get no node until the window reaches
  // them.
  const inWindow = [];
  let visible = 0;
  let count = 0;
  let shown = 0;
  let beyond = 0;
  const flagNames = new Set();
  for (const item of order) {
    const matches = matchesFilter(item);
    if (undecided(item)) {
      count += 1;
      if (matches) shown += 1;
      policyFlags(item).forEach((f) => flagNames.add(f));
    }
    if (visible >= S.window) {
      if (matches && undecided(item)) beyond += 1;
      continue;
    }
    if (matches && undecided(item)) visible += 1;
    inWindow.push(item);
  }
  for (const item of inWindow) {
    if (!item.n) createItemNode(item);
    if (item.dirty) { item.dirty = false; renderItem(item); }
  }
  // Positions move the move buttons' limits: refresh those cheaply.
  for (const item of inWindow) {
    if (!undecided(item)) continue;
    const first = item.pos <= 1;
    const last = item.pos >= count;
    if (item.n.up.disabled !== first) item.n.top.disabled = item.n.up.disabled = first;
    if (item.n.down.disabled !== last) item.n.down.disabled = item.n.bottom.disabled = last;
  }
  // Reorder the nodes only where needed, keeping the focus where it was
  // (one walk along the list: thousands of questions stay cheap).
  const focused = document.activeElement;
  let here = V.queueList.firstElementChild;
  for (const item of inWindow) {
    if (here === item.node) here = here.nextElementSibling;
    else V.queueList.insertBefore(item.node, here);
  }
  while (here) { // out of the window now
    const next = here.nextElementSibling;
    here.remove();
    here = next;
  }
  if (focused && focused !== document.activeElement && document.contains(focused)) focused.focus({ preventScroll: true });
  // The filter: hide what it leaves out (the keyboard skips it too).
  for (const item of inWindow) {
    const matches = matchesFilter(item);
    if (item.node.hidden === matches) item.node.hidden = !matches;
  }
  V.queueMore.hidden = beyond === 0;
  if (beyond) {
    V.queueMore.replaceChildren(t("queue_show_more", { n: number(Math.min(beyond, QUEUE_WINDOW)) }), " ",
      el("span", { class: "n" }, t("queue_not_shown", { n: number(beyond) })));
  }
  renderFilterOptions([...flagNames]);
  V.queueEmpty.hidden = count > 0;
  V.filterEmpty.hidden = count === 0 || shown > 0;
  const shownText = S.filter === "all" ? "" : t("shown_count", { n: shown, total: count });
  if (V.shownCount.textContent !== shownText) V.shownCount.textContent = shownText;
  const unflagged = unflaggedPending().length;
  if (V.approveUnflagged.dataset.n !== String(unflagged)) {
    V.approveUnflagged.dataset.n = String(unflagged);
    V.approveUnflagged.replaceChildren(t("approve_unflagged"), " ", el("span", { class: "n" }, `(${unflagged})`));
  }
  V.approveUnflagged.disabled = unflagged === 0;
  renderLoading(count);
  renderCounters();
  renderBulk();
}

// "Show more": the window grows, and the keyboard goes on with the first
// question it brought.
function showMoreQuestions() {
  const before = shownOrder().filter(undecided).slice(0, S.window).length;
  S.window += QUEUE_WINDOW;
  renderQueue();
  const first = shownOrder().filter(undecided)[before];
  if (first) selectItem(first.id);
}

// A question the keyboard or a decision moves to, out of the window: the
// window grows to it.
function ensureShown(item) {
  if (item.node && item.node.isConnected) return;
  const index = shownOrder().indexOf(item);
  if (index < 0) return;
  S.window = Math.max(S.window, index + 1 + QUEUE_WINDOW / 2);
  renderQueue();
}

function renderCounters() {
  const open = [...S.items.values()].filter(undecided);
  const held = open.filter((i) => i.state === "held").length;
  const forwarded = open.filter((i) => i.state === "forwarded").length;
  const flagged = open.filter((i) => policyFlags(i).length).length;
  const waiting = waitingCount(open.length);
  V.statQueue.textContent = number(waiting);
  if (held || forwarded || flagged) {
    const parts = [held ? t("stat_held", { n: held }) : "", forwarded ? t("stat_forwarded", { n: forwarded }) : "",
      flagged ? t("stat_flagged", { n: flagged }) : ""];
    V.statQueueDetail.textContent = parts.filter(Boolean).join(" · ");
    V.statQueue.append(" ", V.statQueueDetail);
  }
  V.queueCount.textContent = `(${number(waiting)})`;
  const oldest = open.reduce((min, i) => Math.min(min, i.submitted), Infinity);
  const age = Number.isFinite(oldest) ? serverNow() / 1000 - oldest : null;
  V.statOldest.textContent = age === null ? t("none") : formatAge(age);
  V.statOldest.classList.toggle("late", age !== null && age >= 120);
  const audience = audienceCount();
  V.statAudience.textContent = number(audience);
  V.audienceCount.textContent = `(${number(audience)})`;
  V.statAnswering.textContent = S.answering ? t("item_id", { id: S.answering }) : t("none");
}

function renderBulk() {
  for (const id of [...S.checked]) {
    const item = S.items.get(id);
    if (!item || !undecided(item) || !matchesFilter(item)) S.checked.delete(id);
  }
  const selectable = [...S.items.values()].filter((i) => undecided(i) && matchesFilter(i)).length;
  const n = S.checked.size;
  V.selectedCount.textContent = n ? t("n_selected", { n }) : "";
  V.bulkButtons.forEach((b) => { b.disabled = n === 0; });
  V.selectAll.checked = n > 0 && n === selectable;
  V.selectAll.indeterminate = n > 0 && n < selectable;
  V.selectAll.disabled = selectable === 0;
}

function onSelectAll() {
  S.checked.clear();
  if (V.selectAll.checked) for (const item of S.items.values()) if (undecided(item) && matchesFilter(item)) S.checked.add(item.id);
  for (const item of S.items.values()) if (item.n) item.n.check.checked = S.checked.has(item.id);
  renderBulk();
}

function selectItem(id, focus = true) {
  const previous = S.items.get(S.selected);
  S.selected = id;
  if (previous) { previous.dirty = true; }
  const item = S.items.get(id);
  if (!item) return;
  ensureShown(item);
  if (!item.n) return;
  item.dirty = true;
  renderItem(item);
  if (previous && previous !== item && previous.n) renderItem(previous);
  if (focus) {
    item.node.focus();
    item.node.scrollIntoView({ block: "nearest" });
  }
}

// The item under the keyboard: the selected one, else the first waiting.
function currentItem() {
  const item = S.items.get(S.selected);
  if (item && matchesFilter(item)) {
    ensureShown(item);
    return item;
  }
  const first = shownOrder().filter(undecided)[0];
  if (first) selectItem(first.id);
  return first || null;
}

// ------------------------------------------------------------------ queue actions

const DONE = { APPROVE: "done_approve", DROP: "done_drop", FORWARD: "done_forward", HOLD: "done_hold", UNHOLD: "done_unhold",
  CLAIM: "done_claim", UNCLAIM: "done_unclaim", TAKEOVER: "done_takeover", EDIT: "done_edit", MOVE: "done_move" };

// Send a command; announce `done` once the server answered without an
// error. No answer (in time, or before the connection closed): an alert
// says the action may not have been done, with a Retry button.
async function act(command, params, done = null) {
  if (!online()) {
    showAlert(t("offline"));
    return null;
  }
  const irc = S.irc;
  let replies;
  try {
    replies = await irc.request(command, params);
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    if (irc === S.irc) showAlert(unansweredText(error, "action"), "error", () => act(command, params, done));
    return null;
  }
  const failed = replies.some((m) => m.command === "FAIL" || /^[45]\d\d$/.test(m.command));
  if (!failed && done) announce(done);
  return failed ? null : replies;
}

function queueAction(sub, item, extra = []) {
  return act("QUEUE", [S.channel, sub, item.id, ...extra], t(DONE[sub], { id: item.id }));
}

function moveItem(item, where) {
  if (typeof where === "number") {
    if (where < 1 || where === item.pos) return null;
    const count = sortedUndecided().length;
    if (where > count) return null;
  }
  return queueAction("MOVE", item, [String(where)]);
}

function releaseNext() {
  return act("QUEUE", [S.channel, "NEXT"], t("done_next"));
}

async function bulk(sub) {
  const ids = sortedUndecided().filter((i) => S.checked.has(i.id)).map((i) => i.id);
  if (!ids.length) return;
  const channel = S.channel;
  const reason = sub === "DROP" ? V.bulkReason.value.trim() : "";
  if (reason) ids.forEach((id) => S.dropReasons.set(id, reason));
  const label = { APPROVE: t("approve"), DROP: t("drop"), FORWARD: t("forward"), HOLD: t("hold") }[sub];
  S.checked.clear();
  renderBulk();
  for (const item of S.items.values()) if (item.n) item.n.check.checked = false;
  if (sub === "DROP") V.bulkReason.value = "";
  // A long selection (a "select all" in a long queue) goes in several lines.
  const batches = idBatches(ids, channel, sub, reason ? ` :${reason}` : "");
  for (const [i, batch] of batches.entries()) {
    if (channel !== S.channel) return;
    const params = [channel, sub, batch.join(","), ...(reason ? [reason] : [])];
    const done = i === batches.length - 1 ? t("done_bulk", { n: ids.length, action: label }) : null;
    if ((await act("QUEUE", params, done)) === null && !online()) return;
  }
}

// ------------------------------------------------------------------ approve all unflagged

// The pending questions no policy flagged, in queue order (whatever the
// sort and filter shown), but not those another moderator claimed.
function unflaggedPending() {
  return sortedUndecided().filter((i) => i.state === "pending" && !policyFlags(i).length && !(i.claimed && !isMe(i.claimed)));
}

// Comma lists of ids, each short enough for one line
// ("QUEUE <channel> <sub> <ids><rest>").
function idBatches(ids, channel, sub = "APPROVE", rest = "") {
  const room = APPROVE_LINE_MAX - new TextEncoder().encode(`QUEUE ${channel} ${sub} ${rest}`).length;
  const batches = [];
  let current = [];
  let length = 0;
  for (const id of ids) {
    const more = String(id).length + (current.length ? 1 : 0);
    if (current.length && length + more > room) { batches.push(current); current = []; length = 0; }
    length += String(id).length + (current.length ? 1 : 0);
    current.push(id);
  }
  if (current.length) batches.push(current);
  return batches;
}

function openApproveUnflagged() {
  const items = unflaggedPending();
  if (!items.length) return;
  S.unflagged = items.map((i) => i.id);
  const n = items.length;
  V.confirmText.textContent = t("unflagged_confirm", { n });
  const preview = items.slice(0, 10);
  V.confirmList.replaceChildren(...preview.map((i) => el("li", {},
    el("span", { class: "nick", dir: "auto" }, plainText(i.author)), ": ",
    el("span", { class: "message-text", dir: "auto" }, plainText(i.text)))));
  V.confirmMore.hidden = n <= preview.length;
  V.confirmMore.textContent = t("unflagged_more", { n: n - preview.length });
  V.confirmOk.textContent = t("unflagged_ok", { n });
  V.confirm.showModal();
  V.confirmOk.focus();
}

async function confirmApproveUnflagged() {
  const wanted = new Set(S.unflagged);
  V.confirm.close();
  // Still pending and unflagged now: the others are left alone.
  const ids = unflaggedPending().filter((i) => wanted.has(i.id)).map((i) => i.id);
  if (!ids.length) return;
  const channel = S.channel;
  let sent = 0;
  for (const batch of idBatches(ids, channel)) {
    if (channel !== S.channel) return;
    const replies = await act("QUEUE", [channel, "APPROVE", batch.join(",")]);
    if (replies === null && !online()) break;
    sent += batch.length;
  }
  if (sent) announce(t("done_unflagged", { n: sent }));
}

// ------------------------------------------------------------------ shield mode

// Whether the focus is nowhere, or still on `node` now hidden: after an
// action hid the control that did it.
function lostFocus(node) {
  const active = document.activeElement;
  return !active || active === document.body || !document.contains(active) || (node.contains(active) && !active.checkVisibility());
}

function shieldFromInfo(info) {
  if (info.shield === undefined) return;
  const on = info.shield === "on" || info.shield === "closed";
  const was = S.shield;
  S.shield = { on, closed: info.shield === "closed", by: on && was.on ? was.by : null, reason: on ? info.shield_reason || "" : "" };
  renderShield();
}

function onShield(line) {
  const wasOn = S.shield.on;
  S.shield = { on: line.on, closed: line.on ? S.shield.closed : false, by: line.by, reason: line.on ? line.reason : "" };
  renderShield();
  if (!line.on) announce(t("shield_lowered", { by: line.by || "?" }));
  if (line.on && !wasOn && line.by === "auto") showAlert(t("shield_auto_alert", { reason: line.reason }), "warn");
  // The event does not say whether new visitors are refused: ask.
  if (line.on) refreshShield();
}

async function refreshShield() {
  const channel = S.channel;
  const replies = await load("CONF", [channel, "INFO"], null);
  if (!replies || channel !== S.channel) return;
  const info = conferenceInfo(replies);
  if (info.shield === undefined) return;
  const on = info.shield !== "off";
  if (on !== S.shield.on) return; // changed again meanwhile: its own event follows
  S.shield.closed = info.shield === "closed";
  if (on && info.shield_reason) S.shield.reason = info.shield_reason;
  renderShield();
}

function renderShield() {
  const { on, closed, by, reason } = S.shield;
  const why = reason ? plainText(reason) : t("shield_no_reason");
  let text;
  if (!on) text = t("shield_off");
  else if (by === "auto") text = t("shield_on_auto", { reason: why });
  else if (by) text = t("shield_on_by", { reason: why, by });
  else text = t("shield_on", { reason: why });
  if (V.shieldText.textContent !== text) V.shieldText.textContent = text;
  V.shield.dataset.on = String(on);
  V.shield.classList.toggle("on", on);
  V.shield.classList.toggle("auto", on && by === "auto");
  V.shieldDetail.hidden = !on;
  V.shieldDetail.textContent = on ? `${t("shield_effects")}${closed ? ` ${t("shield_refusing")}` : ""}` : "";
  V.shieldLower.hidden = !on;
  V.shieldOpen.hidden = on;
  if (on) toggleShieldForm(false);
}

function toggleShieldForm(open, refocus = false) {
  const wasOpen = !V.shieldForm.hidden;
  V.shieldForm.hidden = !open;
  V.shieldOpen.setAttribute("aria-expanded", String(open));
  if (open) V.shieldReason.focus();
  else if (refocus && wasOpen) V.shieldOpen.focus();
}

function raiseShield(event) {
  event.preventDefault();
  const reason = V.shieldReason.value.trim();
  const params = [S.channel, "SHIELD", "ON"];
  if (V.shieldClosed.checked) params.push("CLOSED");
  if (reason) params.push(reason);
  act("CONF", params).then((replies) => {
    if (!replies) return;
    V.shieldReason.value = "";
    V.shieldClosed.checked = false;
    if (lostFocus(V.shieldForm) && !V.shieldLower.hidden) V.shieldLower.focus();
  });
  // Until the event comes: a moderator's own shield refuses new visitors if asked.
  S.shield.closed = V.shieldClosed.checked;
}

function lowerShield() {
  act("CONF", [S.channel, "SHIELD", "OFF"]).then((replies) => {
    if (replies && lostFocus(V.shieldLower) && !V.shieldOpen.hidden) V.shieldOpen.focus();
  });
}

function openEditor(item) {
  const n = item.n;
  ensureForms(item);
  closeDropper(item, false);
  if (n.editor.hidden) n.editText.value = plainText(item.text);
  n.editor.hidden = false;
  n.edit.setAttribute("aria-expanded", "true");
  n.editText.focus();
  // Claim it while editing so that nobody else publishes it meanwhile.
  if (undecided(item) && !item.claimed) {
    item.autoClaimed = true;
    act("QUEUE", [S.channel, "CLAIM", item.id]);
  }
}

function closeEditor(item, refocus) {
  const n = item.n;
  if (!formOpen(n.editor)) return;
  n.editor.hidden = true;
  n.edit.setAttribute("aria-expanded", "false");
  if (item.autoClaimed && undecided(item) && isMe(item.claimed)) act("QUEUE", [S.channel, "UNCLAIM", item.id]);
  item.autoClaimed = false;
  if (refocus) n.edit.focus();
}

function submitEdit(item) {
  const text = item.n.editText.value.replace(/\s*\n\s*/g, " ").trim();
  if (!text) { item.n.editText.focus(); return; }
  item.autoClaimed = false;
  item.n.editor.hidden = true;
  item.n.edit.setAttribute("aria-expanded", "false");
  const action = text === plainText(item.text)
    ? queueAction("APPROVE", item)
    : queueAction("EDIT", item, [text]);
  action.then(refocusQueue);
}

// After a form closed: back to the selected question (the next one once
// this one is decided), so that the keyboard carries on from there.
function refocusQueue() {
  if (document.activeElement !== document.body && document.contains(document.activeElement)) return;
  const item = S.items.get(S.selected) || sortedUndecided()[0];
  if (item) ensureShown(item);
  if (item && item.node) item.node.focus();
}

function openDropper(item) {
  ensureForms(item);
  closeEditor(item, false);
  item.n.dropper.hidden = false;
  item.n.drop.setAttribute("aria-expanded", "true");
  item.n.dropReason.focus();
}

function closeDropper(item, refocus) {
  if (!formOpen(item.n.dropper)) return;
  item.n.dropper.hidden = true;
  item.n.drop.setAttribute("aria-expanded", "false");
  if (refocus) item.n.drop.focus();
}

function submitDrop(item) {
  const reason = item.n.dropReason.value.trim();
  item.n.dropper.hidden = true;
  item.n.drop.setAttribute("aria-expanded", "false");
  item.n.dropReason.value = "";
  if (reason) S.dropReasons.set(item.id, reason);
  queueAction("DROP", item, reason ? [reason] : []).then(refocusQueue);
}

// ------------------------------------------------------------------ keyboard

function isTyping(target) {
  if (!(target instanceof Element)) return false;
  if (target.closest("textarea, select, [contenteditable=''], [contenteditable='true']")) return true;
  if (target instanceof HTMLInputElement) return !["checkbox", "radio", "button", "submit", "reset"].includes(target.type);
  return false;
}

function onKey(event) {
  if (V.console.hidden || !S.shortcuts || V.confirm.open) return;
  if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
  const handled = shortcut(event.key);
  if (handled) event.preventDefault();
}

function shortcut(key) {
  if (key === "?") {
    V.help.focus();
    V.help.scrollIntoView({ block: "start" });
    return true;
  }
  if (key === "n") { releaseNext(); return true; }
  if (key === "j" || key === "k") {
    const order = shownOrder().filter((i) => undecided(i) || i.id === S.selected);
    if (!order.length) return true;
    const index = order.findIndex((i) => i.id === S.selected);
    const next = index < 0 ? 0 : Math.max(0, Math.min(order.length - 1, index + (key === "j" ? 1 : -1)));
    selectItem(order[next].id);
    return true;
  }
  if (!"adefhcxJKt".includes(key) || key.length !== 1) return false;
  const item = currentItem();
  if (!item) return true;
  if ("JKt".includes(key) && S.sort !== "queue") {
    announce(t("move_in_queue_order"));
    return true;
  }
  switch (key) {
    case "a": queueAction("APPROVE", item); break;
    case "d": openDropper(item); break;
    case "e": openEditor(item); break;
    case "f": queueAction("FORWARD", item); break;
    case "h": queueAction(item.state === "held" ? "UNHOLD" : "HOLD", item); break;
    case "c": queueAction(isMe(item.claimed) ? "UNCLAIM" : "CLAIM", item); break;
    case "x":
      if (undecided(item)) {
        if (S.checked.has(item.id)) S.checked.delete(item.id); else S.checked.add(item.id);
        if (item.n) item.n.check.checked = S.checked.has(item.id);
        renderBulk();
      }
      break;
    case "J": moveItem(item, item.pos + 1); break;
    case "K": moveItem(item, item.pos - 1); break;
    case "t": moveItem(item, "top"); break;
    default: return false;
  }
  return true;
}

// ------------------------------------------------------------------ ticker

function tick() {
  if (V.console.hidden) return;
  S.ticks = (S.ticks || 0) + 1;
  const now = Date.now();
  let removed = false;
  // Removing a question moves the ones below: not under the pointer, where
  // a click could land on another question than the one aimed at.
  const keep = V.queueList.matches(":hover") ? GHOST_HOVER_MS : GHOST_MS;
  for (const item of [...S.items.values()]) {
    if (!item.decidedAt || now - item.decidedAt < keep) continue;
    const n = item.n;
    if (n && (formOpen(n.editor) || formOpen(n.dropper))) continue;
    const hadFocus = !!n && n.li.contains(document.activeElement);
    const order = shownOrder();
    const index = order.indexOf(item);
    S.items.delete(item.id);
    if (n) n.li.remove();
    removed = true;
    if (S.selected === item.id) {
      const rest = order.filter((i) => i !== item && undecided(i));
      const next = order.slice(index + 1).find(undecided) || rest[rest.length - 1];
      S.selected = null;
      if (next) selectItem(next.id, hadFocus);
    }
    if (hadFocus && (document.activeElement === document.body || !document.contains(document.activeElement))) {
      const next = S.items.get(S.selected) || shownOrder().filter(undecided)[0];
      if (next) ensureShown(next);
      if (next && next.node) next.node.focus({ preventScroll: true });
      else document.getElementById("queue-title").focus({ preventScroll: true });
    }
  }
  if (removed) scheduleRender();
  if (S.ticks % 5 === 0) {
    for (const item of S.items.values()) if (item.node && item.node.isConnected) updateAge(item);
    renderCounters();
  }
}

// ------------------------------------------------------------------ published stream

function onChannelMessage(msg) {
  const tags = msg.tags;
  const text = msg.params[1] || "";
  if (msg.command === "NOTICE" && msg.source && !msg.source.includes("!")) {
    // Server broadcasts: state, mode, slow mode, answering, answered.
    const news = parseBroadcast(msg);
    if (news.state) S.info.state = news.state;
    if (news.mode) S.info.mode = news.mode;
    if (news.slowMode !== undefined) S.info.slow_mode = news.slowMode;
    if (news.answering !== undefined) setAnswering(news.answering);  // null: nothing any more
    if (news.answered) setAnswered(news.answered);
    renderInfo();
    addSystemLine(msg, text);
    return;
  }
  if (!tags.msgid || S.messages.has(tags.msgid)) return;
  const placed = messageItem(msg);
  const entry = {
    msgid: tags.msgid,
    nick: msg.nick || "",
    text,
    time: tags.time ? new Date(tags.time) : new Date(),
    item: placed.item,
    reply: placed.replyTo,
    notice: msg.command === "NOTICE",
    votes: 0,
    status: "",
  };
  entry.question = entry.item !== null && !entry.reply && !isStaffNick(entry.nick);
  S.messages.set(entry.msgid, entry);
  if (entry.question) {
    S.questions.set(entry.item, entry);
    if (S.answering === entry.item) entry.status = "answering";
  }
  createEntryNode(entry);
  renderEntry(entry);
  V.streamList.prepend(entry.node);
  trimStream();
}

function isStaffNick(nick) {
  const m = S.members.get(fold(nick));
  return !!(m && m.staff);
}

function trimStream() {
  while (V.streamList.children.length > STREAM_MAX) {
    const last = V.streamList.lastElementChild;
    if (last.dataset.msgid) {
      const entry = S.messages.get(last.dataset.msgid);
      S.messages.delete(last.dataset.msgid);
      if (entry && entry.item && S.questions.get(entry.item) === entry) S.questions.delete(entry.item);
    }
    last.remove();
  }
  V.streamEmpty.hidden = V.streamList.children.length > 0;
}

function addSystemLine(msg, text) {
  const time = msg.tags.time ? new Date(msg.tags.time) : new Date();
  V.streamList.prepend(el("li", { class: "system" },
    el("time", { datetime: time.toISOString() }, clockFormat.format(time)), " ",
    el("span", { class: "message-text", dir: "auto" }, plainText(text))));
  trimStream();
}

function createEntryNode(entry) {
  const n = {};
  const time = clockFormat.format(entry.time);
  n.badges = el("span", { class: "badges" });
  n.text = el("p", { class: "message-text", dir: "auto" }, plainText(entry.text));
  n.deleted = el("p", { class: "deleted-note", hidden: true });
  const suffix = ` (${entry.nick}, ${time})`;
  n.answering = button(t("mark_answering"), { cls: "small secondary", suffix,
    onclick: () => act("CONF", [S.channel, "ANSWERING", entry.item]) });
  n.answered = button(t("mark_answered"), { cls: "small secondary", suffix,
    onclick: () => act("CONF", [S.channel, "ANSWERED", entry.item]) });
  n.delete = button(t("delete"), { cls: "small secondary danger-outline", suffix, onclick: () => {
    n.deleter.hidden = false;
    n.reason.focus();
  } });
  n.reason = el("input", { id: newId("del"), autocomplete: "off", maxlength: "300" });
  n.deleter = el("form", { class: "deleter", hidden: true, onsubmit: (e) => {
    e.preventDefault();
    const reason = n.reason.value.trim();
    n.deleter.hidden = true;
    act("REDACT", reason ? [S.channel, entry.msgid, reason] : [S.channel, entry.msgid], t("done_delete"))
      .then(() => { if (!document.contains(document.activeElement) || document.activeElement === document.body) V.staffInput.focus(); });
  } },
  el("label", { for: n.reason.id }, t("delete_reason")),
  el("div", { class: "inline" }, n.reason,
    el("button", { type: "submit", class: "small danger" }, t("confirm_delete"), hiddenText(suffix)),
    button(t("cancel"), { cls: "small secondary", suffix: `: ${t("delete")}`, onclick: () => { n.deleter.hidden = true; n.delete.focus(); } })));
  n.deleter.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); n.deleter.hidden = true; n.delete.focus(); } });
  n.actions = el("div", { class: "actions", role: "group", "aria-label": t("msg_actions", { nick: entry.nick, time }) },
    entry.question ? [n.answering, n.answered] : null, n.delete);
  n.li = el("li", { class: "msg", "data-msgid": entry.msgid },
    el("p", { class: "msg-meta" },
      el("time", { datetime: entry.time.toISOString() }, time), " ",
      el("span", { class: "nick", dir: "auto" }, plainText(entry.nick)), " ", n.badges),
    n.text, n.deleted, n.actions, n.deleter);
  entry.n = n;
  entry.node = n.li;
}

function renderEntry(entry) {
  const n = entry.n;
  const badges = [];
  if (entry.question) badges.push(el("span", { class: "badge" }, t("question_n", { id: entry.item })));
  else if (entry.item && entry.reply) badges.push(el("span", { class: "badge" }, t("answer_to", { id: entry.item })));
  if (entry.question && entry.votes) badges.push(el("span", { class: "badge votes" }, t("votes", { n: entry.votes })));
  if (entry.status === "answering") badges.push(el("span", { class: "badge badge-answering" }, t("badge_answering")));
  if (entry.status === "answered") badges.push(el("span", { class: "badge badge-published" }, t("badge_answered")));
  n.badges.replaceChildren(...badges);
  n.li.classList.toggle("redacted", !!entry.redacted);
  n.li.classList.toggle("answering", entry.status === "answering");
  n.deleted.hidden = !entry.redacted;
  if (entry.redacted) {
    n.deleted.textContent = entry.redactReason
      ? t("deleted_reason", { who: entry.redactedBy, reason: entry.redactReason })
      : t("deleted_by", { who: entry.redactedBy });
  }
  n.actions.hidden = !!entry.redacted;
  if (entry.redacted) n.deleter.hidden = true;
  n.answering.hidden = entry.status === "answering" || entry.status === "answered";
  n.answered.hidden = entry.status === "answered";
}

function setAnswering(id) {
  const previous = S.questions.get(S.answering);
  if (previous && previous.status === "answering") { previous.status = ""; renderEntry(previous); }
  S.answering = id;
  const entry = S.questions.get(id);
  if (entry) { entry.status = "answering"; renderEntry(entry); }
  renderCounters();
}

function setAnswered(id) {
  const entry = S.questions.get(id);
  if (entry) { entry.status = "answered"; renderEntry(entry); }
  if (S.answering === id) S.answering = null;
  renderCounters();
}

function onRedact(msg) {
  const entry = S.messages.get(msg.params[1]);
  if (!entry) return;
  entry.redacted = true;
  entry.redactedBy = msg.nick || "";
  entry.redactReason = plainText(msg.params[2] || "");
  if (S.answering && entry.item === S.answering) S.answering = null;
  renderEntry(entry);
  renderCounters();
}

function markQuestionRedacted(id) {
  const entry = S.questions.get(id);
  if (entry && !entry.redacted) { entry.redacted = true; entry.redactedBy = entry.redactedBy || "?"; renderEntry(entry); }
}

function onStaffMessage(event) {
  event.preventDefault();
  const text = V.staffInput.value.trim();
  if (!text) return;
  if (!online()) { showAlert(t("offline")); return; }
  S.irc.send("PRIVMSG", [S.channel, text]);
  V.staffInput.value = "";
}

// ------------------------------------------------------------------ audience

function parseSource(source) {
  const [nick, rest = ""] = String(source).split("!");
  const host = rest.includes("@") ? rest.split("@")[1] : "";
  return { nick, host };
}

function upsertMember(nick, prefixes, host) {
  const key = fold(nick);
  let m = S.members.get(key);
  if (!m) {
    m = { nick, prefixes: "", host: "" };
    S.members.set(key, m);
    createMemberNode(m);
  }
  m.nick = nick;
  if (prefixes !== null) m.prefixes = prefixes;
  if (host) m.host = host;
  m.staff = /[@+]/.test(m.prefixes);
  m.dirty = true;
  return m;
}

function removeMember(nick) {
  const key = fold(nick);
  const m = S.members.get(key);
  if (!m) return null;
  S.members.delete(key);
  m.node.remove();
  return m;
}

// Someone left (PART, KICK, QUIT). In a large audience the visitors are a
// count: it goes down unless they were staff.
function memberLeft(nick) {
  const m = removeMember(nick);
  if (S.audience.large && !(m && m.staff)) S.audience.count = Math.max(0, S.audience.count - 1);
}

// The visitors: a count of their own in a large audience, else those listed.
function audienceCount() {
  if (S.audience.large) return S.audience.count;
  let n = 0;
  for (const m of S.members.values()) if (!m.staff) n += 1;
  return n;
}

// NAMES (at join; again when someone with an account joins a small
// audience: the server does not tell peers the status a staff member gets
// on JOIN; and when the audience counted crosses the NAMES limit).
function onNames(list) {
  if (!S.namesOpen) {
    S.namesOpen = true;
    S.namesSeen = new Set();
  }
  for (const token of list.split(" ").filter(Boolean)) {
    const match = /^([@+]*)(.*)$/.exec(token);
    const { nick, host } = parseSource(match[2]);
    upsertMember(nick, match[1], host);
    S.namesSeen.add(fold(nick));
  }
  scheduleAudience();
}

// The end of a NAMES: whoever it did not list left, unless it came with a
// count (NOTE NAMES AUDIENCE: a large audience, the staff only listed):
// the visitors are then listed apart, a page at a time (CONF AUDIENCE).
function endNames() {
  const seen = S.namesOpen ? S.namesSeen : new Set();
  const count = S.namesNote;
  const large = count !== null;
  const wasLarge = S.audience.large;
  S.namesOpen = false;
  S.namesNote = null;
  S.namesAsked = false;
  for (const [key, m] of [...S.members]) {
    if (!seen.has(key) && (m.staff || !large || !m.listed)) removeMember(key);
  }
  S.audience.large = large;
  if (large) {
    S.audience.count = count;
  } else {
    for (const m of S.members.values()) m.listed = false;
    Object.assign(S.audience, { rows: [], next: null, total: 0, search: "" });
  }
  S.audience.base = audienceCount();
  if (large !== wasLarge) {
    V.filterLabel.textContent = large ? t("search_audience") : t("filter_audience");
    if (large && S.joined && moderating()) loadAudience();
  }
  scheduleAudience();
}

// NAMES again when the audience counted here crosses the server's NAMES
// limit (or doubles, or halves, past it): the server says whether it is
// large now.
function checkNames() {
  if (!S.joined || S.namesAsked || !online()) return;
  const n = audienceCount();
  const base = S.audience.base;
  const grew = !S.audience.large && n > Math.max(NAMES_AUDIENCE_MAX, 2 * base);
  const shrank = S.audience.large && n < Math.min(NAMES_AUDIENCE_MAX, base / 2);
  if (!grew && !shrank) return;
  S.namesAsked = true;
  S.irc.send("NAMES", [S.channel]);
}

function onMembership(msg) {
  const me = S.irc && msg.nick && fold(msg.nick) === fold(S.irc.nick);
  const large = S.audience.large;
  switch (msg.command) {
    case "JOIN":
      if (!sameChannel(msg.params[0]) || me) return;
      if (large) {
        // A visitor, counted (staff: the MODE that follows says so).
        S.audience.count += 1;
        break;
      }
      upsertMember(msg.nick, "", parseSource(msg.source).host);
      // extended-join: an account may be staff; NAMES tells its status.
      if (msg.params[1] && msg.params[1] !== "*" && S.joined) S.irc.send("NAMES", [S.channel]);
      break;
    case "PART":
      if (!sameChannel(msg.params[0])) return;
      memberLeft(msg.nick);
      break;
    case "KICK":
      if (!sameChannel(msg.params[0])) return;
      memberLeft(msg.params[1]);
      break;
    case "QUIT":
      memberLeft(msg.nick);
      break;
    case "NICK": {
      const m = S.members.get(fold(msg.nick));
      if (!m) return;
      S.members.delete(fold(msg.nick));
      m.nick = msg.params[0];
      m.dirty = true;
      S.members.set(fold(m.nick), m);
      break;
    }
    case "MODE": {
      if (!sameChannel(msg.params[0])) return;
      let sign = "+";
      let arg = 2;
      for (const c of msg.params[1] || "") {
        if (c === "+" || c === "-") { sign = c; continue; }
        if ("ov".includes(c)) {
          const nick = msg.params[arg++] || "";
          let m = S.members.get(fold(nick));
          // In a large audience, staff are listed from their status on.
          if (!m && large && sign === "+") m = upsertMember(nick, "", "");
          if (!m) continue;
          const wasStaff = m.staff;
          const p = c === "o" ? "@" : "+";
          m.prefixes = sign === "+" ? (m.prefixes.includes(p) ? m.prefixes : m.prefixes + p) : m.prefixes.replace(p, "");
          m.staff = /[@+]/.test(m.prefixes);
          m.dirty = true;
          if (large && m.staff !== wasStaff) {
            S.audience.count = Math.max(0, S.audience.count + (m.staff ? -1 : 1));
            if (!m.staff && !m.listed) removeMember(nick);
          }
        } else if ("bk".includes(c) || (c === "l" && sign === "+")) {
          arg += 1;
        }
      }
      break;
    }
    default:
      return;
  }
  checkNames();
  scheduleAudience();
}

function createMemberNode(m) {
  const n = {};
  n.nick = el("span", { class: "nick", dir: "auto" });
  n.role = el("span", { class: "badge role", hidden: true });
  n.toggle = el("button", { type: "button", class: "small secondary", "aria-expanded": "false" }, t("member_actions"), hiddenText(""));
  n.reason = el("input", { id: newId("mr"), autocomplete: "off", maxlength: "300" });
  n.duration = el("select", { id: newId("md") },
    ["600", "3600", "86400", "0"].map((d) => el("option", { value: d, selected: d === "3600" }, t(`dur_${d}`))));
  n.shared = el("p", { class: "shared status", hidden: true });
  const run = (what) => {
    const reason = n.reason.value.trim();
    const seconds = n.duration.value;
    const params = [S.channel, what, m.nick];
    if (what !== "DISCONNECT" && seconds !== "0") params.push(seconds);
    if (reason) params.push(reason);
    act("CONF", params);
    closePanel();
  };
  // A ban by nick removes this visitor only; the address (its cloak) is a
  // choice of its own, made knowing how many it removes.
  const banAddress = () => {
    const sharing = sharingCount(m);
    const text = sharing === null ? t("confirm_ban_address_unknown", { host: m.host })
      : t("confirm_ban_address", { n: sharing, host: m.host });
    if (!window.confirm(text)) return;
    const reason = n.reason.value.trim();
    const seconds = n.duration.value;
    const params = [S.channel, "BAN", `*!*@${m.host}`];
    if (seconds !== "0") params.push(seconds);
    if (reason) params.push(reason);
    act("CONF", params);
    closePanel();
  };
  n.panel = el("div", { class: "member-panel", id: newId("mp"), hidden: true, role: "group" },
    el("div", { class: "inline-fields" },
      field(t("reason"), n.reason, "field grow"),
      field(t("duration"), n.duration)),
    n.shared,
    el("div", { class: "form-buttons" },
      n.mute = button(t("mute"), { cls: "small secondary", onclick: () => run("MUTE") }),
      n.ban = button(t("ban"), { cls: "small danger", onclick: () => run("BAN") }),
      n.banAddress = button(t("ban_address"), { cls: "small secondary danger-outline", onclick: banAddress }),
      n.disconnect = button(t("disconnect"), { cls: "small secondary danger-outline", onclick: () => run("DISCONNECT") })));
  n.panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); closePanel(); } });
  const closePanel = () => { n.panel.hidden = true; n.toggle.setAttribute("aria-expanded", "false"); n.toggle.focus(); };
  n.toggle.setAttribute("aria-controls", n.panel.id);
  n.toggle.addEventListener("click", () => {
    const open = n.panel.hidden;
    n.panel.hidden = !open;
    n.toggle.setAttribute("aria-expanded", String(open));
    if (open) { renderShared(m); n.reason.focus(); }
  });
  n.li = el("li", { class: "member" }, el("div", { class: "member-row" }, n.nick, n.role, n.toggle), n.panel);
  m.n = n;
  m.node = n.li;
}

// Visitors present on m's address, m included; null when not known (a
// large audience, a member the server's listing did not count).
function sharingCount(m) {
  if (!m.host) return null;
  if (S.audience.large) return Number.isInteger(m.sharing) ? m.sharing : null;
  return [...S.members.values()].filter((o) => !o.staff && o.host === m.host).length;
}

function renderShared(m) {
  m.n.banAddress.hidden = !m.host;
  const sharing = sharingCount(m);
  if (sharing === null) {
    m.n.shared.hidden = !m.host;
    m.n.shared.textContent = t("same_address_unknown", { host: m.host });
    return;
  }
  m.n.shared.hidden = sharing <= 1;
  m.n.shared.textContent = t("same_address", { n: sharing - 1 });
}

function renderMember(m) {
  const n = m.n;
  n.nick.textContent = plainText(m.nick);
  n.role.hidden = !m.staff;
  n.role.textContent = m.prefixes.includes("@") ? t("role_op") : t("role_voice");
  n.toggle.hidden = m.staff;
  n.toggle.lastChild.textContent = t("member_actions_for", { nick: m.nick });
  const suffix = ` (${m.nick})`;
  for (const [b, word] of [[n.mute, "mute"], [n.ban, "ban"], [n.banAddress, "ban_address"], [n.disconnect, "disconnect"]]) {
    b.replaceChildren(t(word), hiddenText(suffix));
  }
  if (m.staff) n.panel.hidden = true;
}

function scheduleAudience() {
  if (S.audienceQueued) return;
  S.audienceQueued = true;
  const run = () => { S.audienceQueued = false; renderAudience(); };
  if (document.hidden) setTimeout(run, 100);
  else requestAnimationFrame(run);
}

function renderAudience() {
  const a = S.audience;
  const byNick = (x, y) => fold(x.nick).localeCompare(fold(y.nick));
  const all = [...S.members.values()];
  for (const m of all) if (m.dirty) { m.dirty = false; renderMember(m); }
  const staff = all.filter((m) => m.staff).sort(byNick);
  let shown;
  let hidden = 0;
  if (a.large) {
    // The server's listing, page after page (those who left since go).
    a.rows = a.rows.filter((m) => !m.staff && S.members.get(fold(m.nick)) === m);
    shown = a.rows;
  } else {
    const filter = fold(V.filter.value.trim());
    const visitors = all.filter((m) => !m.staff && (!filter || fold(m.nick).includes(filter))).sort(byNick);
    shown = visitors.slice(0, AUDIENCE_MAX);
    hidden = visitors.length - shown.length;
  }
  const focused = document.activeElement;
  syncList(V.staffList, staff.map((m) => m.node));
  syncList(V.visitorList, shown.map((m) => m.node));
  if (focused && focused !== document.activeElement && document.contains(focused)) focused.focus({ preventScroll: true });
  V.audienceEmpty.hidden = shown.length > 0 || (a.large && a.loading);
  V.audienceEmpty.textContent = a.large && a.search ? t("audience_no_match", { search: a.search }) : t("audience_empty");
  V.audienceMore.hidden = hidden <= 0;
  V.audienceMore.textContent = t("more_members", { n: hidden });
  V.audienceNote.hidden = !a.large;
  V.audienceShown.hidden = !a.large || a.loading && !shown.length;
  // Unfiltered, the count kept up to date by the events is truer than the
  // listing's, which is as old as its first page.
  const total = a.search ? a.total : a.count;
  const left = Math.max(a.next ? 1 : 0, total - shown.length);
  if (a.large) {
    V.audienceNote.textContent = t("audience_large", { n: a.count, count: number(a.count) });
    const text = a.search
      ? t("audience_matches", { n: a.total, count: number(a.total), shown: number(shown.length), search: a.search })
      : t("audience_shown", { shown: number(shown.length), total: number(total) });
    if (V.audienceShown.textContent !== text) V.audienceShown.textContent = text;
    V.audienceMoreButton.replaceChildren(t("audience_show_more"), hiddenText(` ${t("audience_left", { left: number(left) })}`));
  }
  V.audienceMoreButton.hidden = !a.large || !a.next;
  V.audienceMoreButton.disabled = a.loading;
  renderCounters();
}

function syncList(list, nodes) {
  const current = [...list.children];
  if (current.length === nodes.length && current.every((node, i) => node === nodes[i])) return;
  list.replaceChildren(...nodes);
}

// The audience's search box: a filter of the names here in a small
// audience; in a large one, a search by the server, once typing pauses.
function onFilterInput() {
  if (!S.audience.large) {
    scheduleAudience();
    return;
  }
  clearTimeout(S.audience.timer);
  S.audience.timer = setTimeout(() => loadAudience(), SEARCH_DELAY_MS);
}

// A large audience's visitors from the server (CONF AUDIENCE): the first
// page of those matching the search box, or (`more`) the next page of the
// listing shown. A request that a newer one overtook is ignored.
async function loadAudience(more = false) {
  const a = S.audience;
  clearTimeout(a.timer);
  if (!online() || !S.channel || !moderating() || (more && !a.next)) return false;
  const gen = S.gen;
  const search = more ? a.search : V.filter.value.trim();
  const params = [S.channel, "AUDIENCE"];
  // The next page starts after the visitors listed still here: whoever
  // left since the last page does not make the server's start skip one.
  if (more) params.push(String(Math.min(a.next, a.rows.filter((m) => S.members.get(fold(m.nick)) === m).length + 1)));
  else if (/^[0-9]+$/.test(search)) params.push("1"); // digits alone would be read as a position
  if (search) params.push(search);
  const token = ++a.token;
  a.loading = true;
  scheduleAudience();
  const replies = await load("CONF", params, () => { if (gen === S.gen) loadAudience(more); });
  if (gen !== S.gen || token !== a.token) return false;
  a.loading = false;
  if (!replies) {
    scheduleAudience();
    return false;
  }
  const before = more ? [] : a.rows;
  if (!more) a.rows = [];
  a.search = search;
  const listed = new Set(a.rows);
  const first = a.rows.length;
  for (const line of replies.map(parseConf)) {
    if (!line) continue;
    if (line.type === "member") {
      const known = S.members.get(fold(line.nick));
      if (known && known.staff) continue;
      const m = upsertMember(line.nick, "", line.host);
      m.listed = true;
      m.account = line.account;
      m.sharing = line.sharing; // visitors on that address, this one included
      if (!listed.has(m)) { listed.add(m); a.rows.push(m); }
    } else if (line.type === "end") {
      a.total = parseInt(line.text, 10) || 0; // "<n> visitors"
      if (!search) a.count = a.total;
    }
  }
  for (const m of before) if (!listed.has(m) && !m.staff && S.members.get(fold(m.nick)) === m) removeMember(m.nick);
  a.next = nextPage(replies, "CONF");
  const hadFocus = document.activeElement === V.audienceMoreButton;
  renderAudience();
  // "Show more" gone with the last page: the keyboard goes on with the first visitor it brought.
  if (hadFocus && V.audienceMoreButton.hidden && a.rows[first]) a.rows[first].n.toggle.focus();
  return true;
}

// From a question's author to the audience panel's actions for them (in a
// large audience, found by a search first).
async function focusMember(nick) {
  if (S.audience.large) {
    V.filter.value = nick;
    await loadAudience();
  }
  const m = S.members.get(fold(nick));
  if (!m || m.staff || (S.audience.large && !m.listed)) {
    announce(t("author_gone", { nick }));
    showAlert(t("author_gone", { nick }), "info");
    return;
  }
  if (!S.audience.large) {
    V.filter.value = m.nick;
    renderAudience();
  }
  if (m.n.panel.hidden) m.n.toggle.click();
  else m.n.reason.focus();
  m.node.scrollIntoView({ block: "nearest" });
}

// ------------------------------------------------------------------ bans and mutes

async function refreshBans() {
  if (!online() || !S.channel) return;
  const channel = S.channel;
  const replies = await load("CONF", [channel, "BANS"], refreshBans);
  if (!replies || channel !== S.channel) return;
  const rows = replies.map(parseConf).filter((line) => line && line.type === "restriction");
  V.bansList.replaceChildren(...rows.map(({ kind, mask, setBy, expires, reason }) => {
    const until = expires ? t("until", { time: dateFormat.format(new Date(expires * 1000)) }) : t("until_lifted");
    const kindWord = t(`kind_${kind}`);
    return el("li", { class: "ban" },
      el("p", {},
        el("span", { class: `badge badge-${kind === "ban" ? "dropped" : "held"}` }, kindWord), " ",
        el("code", { class: "mask" }, mask), " ",
        el("span", { class: "status" }, `${t("set_by", { who: setBy })}, ${until}`),
        reason ? el("span", { class: "ban-reason", dir: "auto" }, ` – ${plainText(reason)}`) : null),
      button(t("lift"), { cls: "small secondary", suffix: t("lift_for", { kind: kindWord.toLowerCase(), mask }),
        onclick: () => act("CONF", [S.channel, kind === "ban" ? "UNBAN" : "UNMUTE", mask]) }));
  }));
  V.bansEmpty.hidden = rows.length > 0;
}

// ------------------------------------------------------------------ start

buildPage();
document.addEventListener("keydown", onKey);
setInterval(tick, 1000);
