// Web administration (/admin). An admin signs in (SASL PLAIN over the
// WebSocket, as on the moderation console) and, with the same IRC lines a
// terminal client would send (protocol.md, "Administration"):
//   - creates conferences (CONF CREATE) and edits them: title, description,
//     schedule, state, room mode, slow mode, auditorium, decline reasons
//     (CONF SET, CONF STATE);
//   - gives and removes roles in a conference (CONF ROLES, CONF ROLE);
//   - lifts bans and mutes (CONF BANS, UNBAN, UNMUTE);
//   - reads the audit log a page at a time (CONF AUDIT);
//   - downloads transcripts (CONF EXPORT gives a one-time link);
//   - creates staff accounts, sets their passwords, makes them admins or
//     deletes them (ACCOUNTS), and reads the accounts' audit log.
//
// Every user-supplied string reaches the page through textContent (el());
// no inline script or style (the page has a strict CSP).

import { DEFAULT_CAPS, IrcClient, RequestError, el, plainText } from "./irc.js";
import { VOCAB, conferenceInfo, fold, nextPage, parseConf, parseReply, t, unansweredText } from "./conference.js";

const STATES = VOCAB.conference_states;
const MODES = VOCAB.room_modes;
const FORMATS = VOCAB.export_formats;
const ROLES = ["moderator", "guest", "admin"];
const SCHEDULE = ["opens", "starts", "ends"];
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });

const S = { irc: null, account: "", accounts: [], conferences: [], channel: "", info: {}, auditNext: null,
  accountAuditNext: null, everRegistered: false, loginFailed: false };
const V = {};
const main = document.getElementById("main");

let uid = 0;
const newId = (prefix) => `${prefix}-${++uid}`;

function field(labelText, control) {
  if (!control.id) control.id = newId("f");
  return el("div", { class: "field" }, el("label", { for: control.id }, labelText), control);
}

function check(labelText, control) {
  if (!control.id) control.id = newId("c");
  return el("div", { class: "field toggle" }, control, el("label", { for: control.id }, labelText));
}

function hidden(text) {
  return el("span", { class: "visually-hidden" }, text);
}

function button(label, onclick, { cls = "small secondary", suffix = "", type = "button" } = {}) {
  return el("button", { type, class: cls, onclick }, label, suffix ? hidden(suffix) : null);
}

const unix = (seconds) => (Number(seconds) ? dateFormat.format(new Date(Number(seconds) * 1000)) : "");

// ------------------------------------------------------------------ schedule times

const pad = (n) => String(n).padStart(2, "0");

// A datetime-local value ("2026-12-01T18:00", the browser's time zone) as
// the server's ISO 8601 with a UTC offset; "" stays "".
export function isoWithOffset(local) {
  if (!local) return "";
  const d = new Date(local);
  if (Number.isNaN(d.getTime())) return "";
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:00`
    + `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

// The server's ISO 8601 time as a datetime-local value in the browser's zone.
export function localValue(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// ------------------------------------------------------------------ talking to the server

// Say what happened: a NOTE in the status line, a FAIL (or no answer) as
// an alert. Returns the replies, or null when the request failed.
async function act(command, params, { quiet = false } = {}) {
  let replies;
  try {
    replies = await S.irc.request(command, params);
  } catch (error) {
    if (!(error instanceof RequestError)) throw error;
    showError(unansweredText(error, "action"));
    return null;
  }
  const failure = replies.map(parseReply).find((r) => r && r.kind === "FAIL");
  if (failure) {
    showError(plainText(failure.description));
    return null;
  }
  const numeric = replies.find((m) => /^4[0-9][0-9]$/.test(m.command));
  if (numeric) {
    showError(plainText(numeric.params[numeric.params.length - 1] || numeric.command));
    return null;
  }
  const done = replies.map(parseReply).find((r) => r && r.kind === "NOTE");
  if (done && !quiet) showStatus(plainText(done.description));
  return replies;
}

function showStatus(text) {
  V.error.textContent = "";
  V.status.textContent = text;
}

function showError(text) {
  V.status.textContent = "";
  V.error.textContent = text;
}

// Every page of a paged listing (`params` then `params` + <next>).
async function everyPage(command, params) {
  let all = [];
  let from = null;
  do {
    const replies = await act(command, from ? [...params, String(from)] : params, { quiet: true });
    if (!replies) return null;
    all = all.concat(replies);
    from = nextPage(replies, command);
  } while (from);
  return all;
}

// ------------------------------------------------------------------ page skeleton

function buildPage() {
  V.accountInput = el("input", { id: "login-account", name: "username", autocomplete: "username", autocapitalize: "none", spellcheck: "false", required: true });
  V.passwordInput = el("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  V.loginError = el("p", { id: "login-error", class: "error", role: "alert" });
  V.loginButton = el("button", { type: "submit" }, t("sign_in"));
  V.login = el("section", { class: "login", id: "login", "aria-labelledby": "login-title" },
    el("h2", { id: "login-title" }, t("sign_in_title")),
    el("p", { id: "login-intro", class: "status" }, t("sign_in_intro")),
    el("form", { method: "post", action: "#", "aria-describedby": "login-intro", onsubmit: onLogin },
      field(t("account"), V.accountInput), field(t("password"), V.passwordInput), V.loginError, V.loginButton));

  V.who = el("span", { class: "who" });
  V.status = el("p", { id: "admin-status", class: "ok", role: "status" });
  V.error = el("p", { id: "admin-error", class: "error", role: "alert" });
  V.topbar = el("div", { class: "topbar" },
    el("p", { class: "session" }, V.who),
    el("a", { href: "/moderator" }, t("to_console")),
    button(t("sign_out"), signOut));

  // Conferences.
  V.confList = el("ul", { id: "conference-list", class: "rows" });
  V.newChannel = el("input", { id: "new-channel", autocomplete: "off", placeholder: "#townhall", required: true });
  V.newTitle = el("input", { id: "new-title", autocomplete: "off", required: true, maxlength: "300" });
  V.conferences = el("section", { id: "conferences", class: "panel", "aria-labelledby": "conferences-title" },
    el("h2", { id: "conferences-title" }, t("conferences_title")),
    V.confList,
    el("form", { id: "new-conference", class: "inline-form", onsubmit: onCreateConference },
      el("h3", {}, t("new_conference")),
      field(t("channel"), V.newChannel), field(t("title"), V.newTitle),
      el("button", { type: "submit" }, t("create_conference"))));

  // One conference.
  V.editorTitle = el("h2", { id: "editor-title" });
  V.title = el("input", { id: "conf-title-input", maxlength: "300" });
  V.description = el("textarea", { id: "conf-description", rows: "3", maxlength: "390" });
  V.schedule = Object.fromEntries(SCHEDULE.map((key) => [key, el("input", { id: `conf-${key}`, type: "datetime-local" })]));
  V.mode = el("select", { id: "conf-mode" }, MODES.map((m) => el("option", { value: m }, t(`md_${m}`))));
  V.slow = el("input", { id: "conf-slow", type: "number", min: "0", max: "3600", step: "1", inputmode: "numeric" });
  V.auditorium = el("input", { id: "conf-auditorium", type: "checkbox" });
  V.reasons = el("input", { id: "conf-reasons", type: "checkbox" });
  V.state = el("select", { id: "conf-state" }, STATES.map((s) => el("option", { value: s }, t(`st_${s}`))));
  V.settings = el("form", { id: "conf-settings", onsubmit: onSaveSettings },
    el("h3", {}, t("settings_title")),
    field(t("title"), V.title), field(t("description"), V.description),
    el("fieldset", {}, el("legend", {}, t("schedule_title")),
      field(t("opens"), V.schedule.opens), field(t("starts"), V.schedule.starts), field(t("ends"), V.schedule.ends)),
    field(t("mode"), V.mode), field(t("slow_mode"), V.slow),
    check(t("auditorium"), V.auditorium), check(t("show_decline_reasons"), V.reasons),
    el("button", { type: "submit" }, t("save_settings")));
  V.stateForm = el("form", { id: "conf-state-form", class: "inline-form", onsubmit: onSetState },
    field(t("state"), V.state), el("button", { type: "submit", class: "secondary" }, t("set_state")));

  V.rolesList = el("ul", { id: "roles-list", class: "rows" });
  V.roleAccount = el("select", { id: "role-account" });
  V.roleName = el("select", { id: "role-name" }, ROLES.map((r) => el("option", { value: r }, t(`role_${r}`))));
  V.roles = el("section", { id: "roles", "aria-labelledby": "roles-title" },
    el("h3", { id: "roles-title" }, t("roles_title")), V.rolesList,
    el("form", { class: "inline-form", id: "role-form", onsubmit: onGiveRole },
      field(t("account"), V.roleAccount), field(t("role"), V.roleName),
      el("button", { type: "submit" }, t("give_role"))));

  V.bansList = el("ul", { id: "bans-list", class: "rows" });
  V.bans = el("section", { id: "bans", "aria-labelledby": "bans-title" },
    el("h3", { id: "bans-title" }, t("bans_title")), V.bansList);

  V.format = el("select", { id: "export-format" }, FORMATS.map((f) => el("option", { value: f }, f.toUpperCase())));
  V.exports = el("section", { id: "transcripts", "aria-labelledby": "transcripts-title" },
    el("h3", { id: "transcripts-title" }, t("transcripts_title")),
    field(t("format"), V.format),
    el("div", { class: "form-buttons" },
      button(t("download_public"), () => download(false), { cls: "" }),
      button(t("download_internal"), () => download(true))));

  V.auditList = el("ol", { id: "audit-list", class: "audit" });
  V.auditMore = button(t("load_more"), () => loadAudit(true), { suffix: `: ${t("audit_title")}` });
  V.audit = el("section", { id: "audit", "aria-labelledby": "audit-title" },
    el("h3", { id: "audit-title" }, t("audit_title")), V.auditList, V.auditMore);

  V.editor = el("section", { id: "conference-editor", class: "panel", hidden: true, "aria-labelledby": "editor-title" },
    V.editorTitle, V.settings, V.stateForm, V.roles, V.bans, V.exports, V.audit);

  // Accounts.
  V.accountsList = el("ul", { id: "accounts-list", class: "rows" });
  V.newName = el("input", { id: "new-account", autocomplete: "off", autocapitalize: "none", spellcheck: "false", required: true, maxlength: "30" });
  V.newPassword = el("input", { id: "new-password", type: "password", autocomplete: "new-password", required: true });
  V.newAdmin = el("input", { id: "new-admin", type: "checkbox" });
  V.accountAuditList = el("ol", { id: "account-audit-list", class: "audit" });
  V.accountAuditMore = button(t("load_more"), () => loadAccountAudit(true), { suffix: `: ${t("account_audit_title")}` });
  V.accounts = el("section", { id: "accounts", class: "panel", "aria-labelledby": "accounts-title" },
    el("h2", { id: "accounts-title" }, t("accounts_title")),
    el("p", { class: "status" }, t("accounts_intro")),
    V.accountsList,
    el("form", { id: "new-account-form", class: "inline-form", onsubmit: onCreateAccount },
      el("h3", {}, t("new_account")),
      field(t("account"), V.newName), field(t("password"), V.newPassword), check(t("make_admin"), V.newAdmin),
      el("button", { type: "submit" }, t("create_account"))),
    el("h3", {}, t("account_audit_title")), V.accountAuditList, V.accountAuditMore);

  V.admin = el("div", { id: "admin", hidden: true, "data-ready": "false" },
    V.topbar, V.status, V.error, el("div", { class: "columns" }, V.conferences, V.editor), V.accounts);
  main.append(V.login, V.admin);
  V.accountInput.focus();
}

// ------------------------------------------------------------------ sign in

function onLogin(event) {
  event.preventDefault();
  const account = V.accountInput.value.trim();
  const password = V.passwordInput.value;
  if (!account || !password) {
    V.loginError.textContent = t("login_missing");
    return;
  }
  V.loginError.textContent = "";
  V.loginButton.disabled = true;
  V.loginButton.textContent = t("signing_in");
  S.account = account;
  S.everRegistered = false;
  connect(account, password, false);
}

// Sign in to a staff account with SASL; if no account takes the name and
// password, as an IRC operator (OPER after registering: the operator that
// `confchat init` writes is an admin in every conference).
function connect(account, password, asOperator) {
  S.loginFailed = false;
  // A taken nick (the same admin on the console) is replaced by a free one.
  const irc = new IrcClient(asOperator
    ? { nick: account, caps: DEFAULT_CAPS, autoRename: true }
    : { nick: account, account, password, caps: DEFAULT_CAPS, autoRename: true });
  S.irc = irc;
  const mine = (fn) => (...args) => { if (S.irc === irc) fn(...args); };
  irc.on("loginfailed", mine(() => {
    S.loginFailed = true;
    irc.close();
    if (!S.everRegistered) connect(account, password, true);
    else loginError(t("login_failed"));
  }));
  irc.on("close", mine(() => {
    if (!S.everRegistered && !S.loginFailed) {
      irc.close();
      S.irc = null;
      loginError(t("connect_failed"));
    }
  }));
  irc.on("registered", mine(async () => {
    if (asOperator) { // on every connection, a reconnection too
      const replies = await irc.request("OPER", [account, password]).catch(() => []);
      if (!replies.some((m) => m.command === "381")) {
        S.loginFailed = true;
        irc.close();
        S.irc = null;
        loginError(t("login_failed"));
        return;
      }
    }
    onRegistered();
  }));
  irc.connect();
}

function loginError(text) {
  V.loginButton.disabled = false;
  V.loginButton.textContent = t("sign_in");
  V.loginError.textContent = text;
  V.passwordInput.value = "";
  V.passwordInput.focus();
}

async function onRegistered() {
  const first = !S.everRegistered;
  S.everRegistered = true;
  V.admin.dataset.ready = "false";
  // Only admins get an answer to ACCOUNTS LIST; anyone else is told here.
  const replies = await S.irc.request("ACCOUNTS", ["LIST"]).catch(() => null);
  const refused = !replies || replies.some((m) => m.command === "FAIL");
  if (refused) {
    S.loginFailed = true;
    S.irc.close();
    S.irc = null;
    loginError(t("not_admin", { account: S.account }));
    return;
  }
  if (first) {
    V.passwordInput.value = "";
    V.loginButton.disabled = false;
    V.loginButton.textContent = t("sign_in");
    V.login.hidden = true;
    V.admin.hidden = false;
    V.who.textContent = t("signed_in_as", { account: S.account });
  }
  await refreshAccounts();
  await refreshConferences();
  await loadAccountAudit(false);
  if (S.channel) await openConference(S.channel);
  V.admin.dataset.ready = "true";
}

function signOut() {
  if (S.irc) S.irc.close();
  S.irc = null;
  S.everRegistered = false;
  V.admin.hidden = true;
  V.login.hidden = false;
  V.editor.hidden = true;
  S.channel = "";
  V.accountInput.focus();
}

// ------------------------------------------------------------------ conferences

async function refreshConferences() {
  const replies = await act("CONF", ["LIST"], { quiet: true });
  if (!replies) return;
  S.conferences = replies.map(parseConf).filter((c) => c && c.type === "list");
  V.confList.replaceChildren(...S.conferences.map((c) => el("li", { "data-channel": c.channel },
    el("span", { class: "name" }, c.channel), " ",
    el("span", { class: "title" }, plainText(c.title)), " ",
    el("span", { class: "badge" }, t(`st_${c.state}`)), " ",
    button(t("edit"), () => openConference(c.channel), { suffix: ` ${c.channel}` }))));
  if (!S.conferences.length) V.confList.append(el("li", { class: "status" }, t("no_conferences")));
}

async function onCreateConference(event) {
  event.preventDefault();
  let channel = V.newChannel.value.trim();
  if (channel && !channel.startsWith("#")) channel = `#${channel}`;
  const title = V.newTitle.value.trim();
  if (!channel || !title) {
    showError(t("create_missing"));
    return;
  }
  if (!(await act("CONF", ["CREATE", channel, title]))) return;
  V.newChannel.value = "";
  V.newTitle.value = "";
  await refreshConferences();
  await openConference(channel);
}

async function openConference(channel) {
  const replies = await act("CONF", [channel, "INFO"], { quiet: true });
  if (!replies) return;
  S.channel = channel;
  S.info = conferenceInfo(replies);
  V.editorTitle.textContent = t("editor_title", { channel });
  V.title.value = S.info.title || "";
  V.description.value = S.info.description || "";
  for (const key of SCHEDULE) V.schedule[key].value = localValue(S.info[key]);
  V.mode.value = S.info.mode || "moderated";
  V.slow.value = S.info.slow_mode || "0";
  V.auditorium.checked = S.info.auditorium === "on";
  V.reasons.checked = S.info.show_decline_reasons === "on";
  V.state.value = S.info.state || "scheduled";
  V.editor.hidden = false;
  for (const node of V.confList.children) node.classList.toggle("current", fold(node.dataset.channel) === fold(channel));
  await Promise.all([refreshRoles(), refreshBans(), loadAudit(false)]);
  V.editor.dataset.channel = channel;
}

// What the form says, as CONF SET values (text, as the protocol has them).
function formSettings() {
  const values = {
    title: V.title.value.trim(),
    description: V.description.value.trim(),
    mode: V.mode.value,
    slow_mode: String(Math.max(0, parseInt(V.slow.value, 10) || 0)),
    auditorium: V.auditorium.checked ? "on" : "off",
    show_decline_reasons: V.reasons.checked ? "on" : "off",
  };
  for (const key of SCHEDULE) values[key] = isoWithOffset(V.schedule[key].value);
  return values;
}

async function onSaveSettings(event) {
  event.preventDefault();
  const channel = S.channel;
  const wanted = formSettings();
  const changed = Object.entries(wanted).filter(([key, value]) => {
    if (SCHEDULE.includes(key)) return localValue(S.info[key]) !== localValue(value);
    return (S.info[key] ?? "") !== value;
  });
  if (!wanted.title) {
    showError(t("title_missing"));
    return;
  }
  for (const [key, value] of changed) {
    if (!(await act("CONF", [channel, "SET", key, value], { quiet: true }))) return;
    S.info[key] = value;
  }
  showStatus(changed.length ? t("settings_saved", { n: changed.length }) : t("nothing_changed"));
  await refreshConferences();
}

async function onSetState(event) {
  event.preventDefault();
  if (await act("CONF", [S.channel, "STATE", V.state.value])) {
    S.info.state = V.state.value;
    await refreshConferences();
  }
}

// ------------------------------------------------------------------ roles, bans

async function refreshRoles() {
  const replies = await everyPage("CONF", [S.channel, "ROLES"]);
  if (!replies) return;
  const grants = replies.filter((m) => m.command === "CONF" && m.params[1] === "GRANT");
  V.rolesList.replaceChildren(...grants.map((m) => {
    const [account, role] = m.params.slice(2);
    return el("li", { "data-account": account },
      el("span", { class: "name" }, account), " ", el("span", { class: "badge" }, t(`role_${role}`)), " ",
      button(t("remove_role"), () => setRole(account, "visitor"), { suffix: ` ${account}` }));
  }));
  if (!grants.length) V.rolesList.append(el("li", { class: "status" }, t("no_roles")));
}

async function setRole(account, role) {
  if (await act("CONF", [S.channel, "ROLE", account, role])) {
    await refreshRoles();
    await loadAudit(false);
  }
}

function onGiveRole(event) {
  event.preventDefault();
  if (V.roleAccount.value) setRole(V.roleAccount.value, V.roleName.value);
}

async function refreshBans() {
  const replies = await act("CONF", [S.channel, "BANS"], { quiet: true });
  if (!replies) return;
  const rows = replies.map(parseConf).filter((r) => r && r.type === "restriction");
  V.bansList.replaceChildren(...rows.map((r) => el("li", {},
    el("span", { class: "badge" }, t(`kind_${r.kind}`)), " ", el("span", { class: "name" }, r.mask), " ",
    el("span", { class: "status" }, t("set_by", { who: r.setBy, reason: plainText(r.reason) })), " ",
    button(t("lift"), () => lift(r), { suffix: ` ${r.mask}` }))));
  if (!rows.length) V.bansList.append(el("li", { class: "status" }, t("no_bans")));
}

async function lift(restriction) {
  const command = restriction.kind === "mute" ? "UNMUTE" : "UNBAN";
  if (await act("CONF", [S.channel, command, restriction.mask])) {
    await refreshBans();
    await loadAudit(false);
  }
}

// ------------------------------------------------------------------ transcripts, audit

async function download(internal) {
  const params = [S.channel, "EXPORT", V.format.value, ...(internal ? ["internal"] : [])];
  const replies = await act("CONF", params, { quiet: true });
  const line = replies && replies.find((m) => m.command === "CONF" && m.params[1] === "EXPORT");
  if (!line) return;
  // The link works once: a click on a link made for it, never shown.
  const link = el("a", { href: line.params[4], download: "", hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  showStatus(t(internal ? "downloading_internal" : "downloading_public"));
}

function auditRow(at, actor, action, subject, detail) {
  return el("li", {},
    el("time", {}, unix(at)), " ", el("span", { class: "name" }, actor), " ",
    el("span", { class: "badge" }, action), subject && subject !== "*" ? ` ${subject} ` : " ",
    el("code", { class: "detail" }, detail === "{}" ? "" : plainText(detail)));
}

async function loadAudit(more) {
  if (!more) {
    V.auditList.replaceChildren();
    S.auditNext = null;
  }
  const from = more ? S.auditNext : null;
  const replies = await act("CONF", from ? [S.channel, "AUDIT", String(from)] : [S.channel, "AUDIT"], { quiet: true });
  if (!replies) return;
  for (const m of replies) {
    if (m.command === "CONF" && m.params[1] === "AUDIT") V.auditList.append(auditRow(...m.params.slice(2)));
  }
  S.auditNext = nextPage(replies, "CONF");
  V.auditMore.hidden = !S.auditNext;
}

async function loadAccountAudit(more) {
  if (!more) {
    V.accountAuditList.replaceChildren();
    S.accountAuditNext = null;
  }
  const from = more ? S.accountAuditNext : null;
  const replies = await act("ACCOUNTS", from ? ["AUDIT", String(from)] : ["AUDIT"], { quiet: true });
  if (!replies) return;
  for (const m of replies) {
    if (m.command === "ACCOUNTS" && m.params[1] === "AUDIT") V.accountAuditList.append(auditRow(...m.params.slice(2)));
  }
  S.accountAuditNext = nextPage(replies, "ACCOUNTS");
  V.accountAuditMore.hidden = !S.accountAuditNext;
}

// ------------------------------------------------------------------ accounts

async function refreshAccounts() {
  const replies = await everyPage("ACCOUNTS", ["LIST"]);
  if (!replies) return;
  S.accounts = replies.filter((m) => m.command === "ACCOUNTS" && m.params[1] === "LIST").map((m) => {
    const [name, source, kind, created, by] = m.params.slice(2);
    return { name, source, kind, created, by };
  });
  V.accountsList.replaceChildren(...S.accounts.map(accountRow));
  const chosen = V.roleAccount.value;
  V.roleAccount.replaceChildren(...S.accounts.map((a) => el("option", { value: a.name }, a.name)));
  if (chosen) V.roleAccount.value = chosen;
}

function accountRow(account) {
  const row = el("li", { "data-account": account.name },
    el("span", { class: "name" }, account.name), " ",
    el("span", { class: "badge" }, t(account.kind === "admin" ? "kind_admin" : "kind_staff")), " ");
  if (account.source === "config") {
    row.append(el("span", { class: "status" }, t("from_config")));
    return row;
  }
  const password = el("input", { type: "password", autocomplete: "new-password", required: true,
    id: newId("pw") });
  const form = el("form", { class: "inline-form passwd", onsubmit: async (event) => {
    event.preventDefault();
    if (await act("ACCOUNTS", ["PASSWD", account.name, password.value])) {
      password.value = "";
      await loadAccountAudit(false);
    }
  } },
  el("label", { for: password.id }, t("new_password"), hidden(` ${account.name}`)), password,
  el("button", { type: "submit", class: "small" }, t("set_password"), hidden(` ${account.name}`)));
  const admin = account.kind === "admin";
  row.append(
    el("span", { class: "status" }, t("created_by", { who: account.by === "*" ? "" : account.by, when: unix(account.created) })),
    form,
    button(t(admin ? "remove_admin" : "make_admin_button"), async () => {
      if (await act("ACCOUNTS", ["ADMIN", account.name, admin ? "off" : "on"])) await afterAccountChange();
    }, { suffix: ` ${account.name}` }),
    button(t("delete_account"), async () => {
      if (!window.confirm(t("confirm_delete", { account: account.name }))) return;
      if (await act("ACCOUNTS", ["DELETE", account.name])) await afterAccountChange();
    }, { cls: "small danger", suffix: ` ${account.name}` }));
  return row;
}

async function afterAccountChange() {
  await refreshAccounts();
  await loadAccountAudit(false);
  if (S.channel) await refreshRoles();
}

async function onCreateAccount(event) {
  event.preventDefault();
  const name = V.newName.value.trim();
  const password = V.newPassword.value;
  if (!name || !password) {
    showError(t("create_account_missing"));
    return;
  }
  if (!(await act("ACCOUNTS", ["CREATE", name, V.newAdmin.checked ? "admin" : "staff", password]))) return;
  V.newName.value = "";
  V.newPassword.value = "";
  V.newAdmin.checked = false;
  await afterAccountChange();
}

buildPage();
