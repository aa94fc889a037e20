// The embed page: tells the city's web team how to put the chat on the
// city's site, with a copyable <iframe> snippet for the conference.
// Text is inserted with el()/textContent only.

import { el, pageSettings } from "./irc.js";
import { t } from "./conference.js";

const settings = pageSettings();
const DEFAULT_HEIGHT = 700;

function attr(value) {
  return String(value).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function chatUrl(origin, conference) {
  return `${origin}/?conference=${encodeURIComponent(conference)}`;
}

export function snippet(origin, conference, height) {
  return `<iframe src="${attr(chatUrl(origin, conference))}" title="${attr(t("frame_title", { conference }))}" `
    + `width="100%" height="${height}" style="border: 0; max-width: 100%;" loading="lazy"></iframe>`;
}

// The conference's QR code (made by the server, /qr.svg), to show on a
// screen or to print, and the room screen's link.
function buildQrCard() {
  const img = el("img", { class: "qr", width: "220", height: "220", alt: "" });
  const screenLink = el("a", { class: "screen-link", target: "_blank", rel: "noopener" }, t("screen_link"));
  const card = el("section", { class: "card qr-card", "aria-labelledby": "qr-title" },
    el("h2", { id: "qr-title" }, t("qr_title")),
    el("p", {}, t("qr_text")),
    img,
    el("p", {}, screenLink));
  let timer = null;
  // Once typing pauses, and only for a channel name (the server makes no other).
  const update = (conference) => {
    clearTimeout(timer);
    const valid = /^#[^\s,:\x07]{1,63}$/.test(conference);
    card.hidden = !valid;
    if (!valid) return;
    timer = setTimeout(() => {
      img.setAttribute("src", `/qr.svg?conference=${encodeURIComponent(conference)}`);
      img.setAttribute("alt", t("qr_alt", { url: chatUrl(location.origin, conference) }));
      screenLink.setAttribute("href", `/screen?conf=${encodeURIComponent(conference)}`);
    }, img.hasAttribute("src") ? 300 : 0);
  };
  return { card, update };
}

function build(main) {
  const conferenceInput = el("input", {
    id: "embed-conference", type: "text", value: settings.conference || "", spellcheck: "false",
    autocapitalize: "off", "aria-describedby": "embed-conference-hint",
  });
  const heightInput = el("input", {
    id: "embed-height", type: "number", min: "300", max: "2000", step: "50", value: String(DEFAULT_HEIGHT),
    inputmode: "numeric", "aria-describedby": "embed-height-hint",
  });
  const code = el("code", { id: "embed-snippet" });
  const pre = el("pre", { class: "snippet", tabindex: "0", "aria-labelledby": "snippet-title" }, code);
  const copyStatus = el("p", { class: "copy-status", role: "status" });
  const copyButton = el("button", { type: "button", class: "copy" }, t("copy"));
  const link = el("a", { id: "embed-link" });
  const missing = el("p", { class: "warning", hidden: true }, t("no_conference"));
  const tryLink = el("a", { class: "button-link", target: "_blank", rel: "noopener" }, t("try_link"));
  const qr = buildQrCard();

  const current = () => {
    const conference = conferenceInput.value.trim();
    let height = parseInt(heightInput.value, 10);
    if (!Number.isFinite(height) || height < 300) height = DEFAULT_HEIGHT;
    return { conference, height: Math.min(height, 2000) };
  };
  const render = () => {
    const { conference, height } = current();
    code.textContent = snippet(location.origin, conference, height);
    const url = chatUrl(location.origin, conference);
    link.textContent = url;
    link.setAttribute("href", url);
    tryLink.setAttribute("href", url);
    missing.hidden = Boolean(conference);
    copyStatus.textContent = "";
    qr.update(conference);
  };
  conferenceInput.addEventListener("input", render);
  heightInput.addEventListener("input", render);

  copyButton.addEventListener("click", async () => {
    const text = code.textContent;
    let ok = false;
    try {
      await navigator.clipboard.writeText(text);
      ok = true;
    } catch (_) {
      // Older browsers, or no clipboard permission: select and copy.
      const range = document.createRange();
      range.selectNodeContents(code);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try {
        ok = document.execCommand("copy");
      } catch (__) {
        ok = false;
      }
    }
    copyStatus.textContent = ok ? t("copied") : t("copy_failed");
    copyStatus.className = `copy-status ${ok ? "ok" : "error"}`;
  });

  const origin = el("code", {}, "listen.websocket_origins");
  const toml = el("pre", { class: "snippet config", tabindex: "0", "aria-label": "config.toml" },
    el("code", {}, '[listen]\nwebsocket_origins = ["https://www.city.example"]'));

  main.append(
    el("p", { class: "lead" }, t("intro")),
    el("div", { class: "embed-layout" },
      el("div", { class: "embed-main" },
        el("section", { class: "card", "aria-labelledby": "settings-title" },
          el("h2", { id: "settings-title" }, t("settings_title")),
          el("div", { class: "fields" },
            el("div", { class: "field" },
              el("label", { for: "embed-conference" }, t("conference_label")),
              el("p", { id: "embed-conference-hint", class: "hint" }, t("conference_hint")),
              conferenceInput),
            el("div", { class: "field" },
              el("label", { for: "embed-height" }, t("height_label")),
              el("p", { id: "embed-height-hint", class: "hint" }, t("height_hint")),
              heightInput)),
          missing),
        el("section", { class: "card", "aria-labelledby": "snippet-title" },
          el("h2", { id: "snippet-title" }, t("snippet_title")),
          pre,
          el("div", { class: "copy-row" }, copyButton, copyStatus),
          el("p", { class: "direct" }, t("direct_link"), " ", link)),
        el("section", { class: "card", "aria-labelledby": "origin-title" },
          el("h2", { id: "origin-title" }, t("origin_title")),
          el("p", {}, t("origin_text1"), origin, t("origin_text2")),
          toml,
          el("p", {}, t("origin_why")),
          el("p", {}, t("https_note")))),
      el("aside", { class: "card embed-try", "aria-labelledby": "try-title" },
        el("h2", { id: "try-title" }, t("try_title")),
        el("p", {}, t("try_text")),
        tryLink),
      qr.card));
  render();
}

const main = document.getElementById("main");
if (main) build(main);
