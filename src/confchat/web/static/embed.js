// The embed page: tells the city's web team how to put the chat on the
// city's site, with a copyable <iframe> snippet for the conference.
// Text is inserted with el()/textContent only.

import { el, pageSettings } from "./irc.js";

const settings = pageSettings();
const LANG = settings.language === "fr" ? "fr" : "en";
const DEFAULT_HEIGHT = 700;

const WORDS = {
  en: {
    intro: "Paste the code below into the page of your website where the live questions should appear. Visitors then choose a nickname and ask their questions without leaving your site.",
    settingsTitle: "Your chat",
    conferenceLabel: "Conference",
    conferenceHint: "The conference's channel name, such as #townhall.",
    heightLabel: "Height in pixels",
    heightHint: "The chat fits any width, from phones to desktops; 600 to 800 pixels high suits most pages.",
    snippetTitle: "Code to paste",
    snippetLabel: "HTML code of the chat frame",
    copy: "Copy the code",
    copied: "The code is copied to the clipboard.",
    copyFailed: "Copying failed: select the code and copy it by hand.",
    frameTitle: (conf) => `Live questions: ${conf}`,
    directLink: "Direct link, for a button or a newsletter:",
    originTitle: "Allow your site in the server configuration",
    originText1: "Browsers show the chat inside another site's pages only if that site is allowed. Add the address of the city's site (its origin: https://, the host name, and the port if it is not the usual one) to ",
    originText2: " in the confchat configuration file, then restart the server:",
    originWhy: "This one setting covers both checks: the pages' Content-Security-Policy (frame-ancestors), which lets your pages frame the chat, and the origin check of the chat's WebSocket.",
    httpsNote: "Serve both your site and the chat over HTTPS (put a reverse proxy in front of confchat), otherwise browsers block the frame inside an HTTPS page.",
    tryTitle: "Check it",
    tryText: "Open the chat as visitors will see it:",
    tryLink: "Open the chat",
    noConference: "No conference is set up on this server yet: create one, then enter its channel name above.",
  },
  fr: {
    intro: "Collez le code ci-dessous dans la page de votre site où les questions en direct doivent apparaître. Les internautes choisissent alors un pseudonyme et posent leurs questions sans quitter votre site.",
    settingsTitle: "Votre chat",
    conferenceLabel: "Conférence",
    conferenceHint: "Le nom de canal de la conférence, par exemple #townhall.",
    heightLabel: "Hauteur en pixels",
    heightHint: "Le chat s’adapte à toutes les largeurs, du téléphone à l’ordinateur ; une hauteur de 600 à 800 pixels convient à la plupart des pages.",
    snippetTitle: "Code à coller",
    snippetLabel: "Code HTML du cadre du chat",
    copy: "Copier le code",
    copied: "Le code est copié dans le presse-papiers.",
    copyFailed: "La copie a échoué : sélectionnez le code et copiez-le à la main.",
    frameTitle: (conf) => `Questions en direct : ${conf}`,
    directLink: "Lien direct, pour un bouton ou une lettre d’information :",
    originTitle: "Autoriser votre site dans la configuration du serveur",
    originText1: "Les navigateurs n’affichent le chat dans les pages d’un autre site que si ce site est autorisé. Ajoutez l’adresse du site de la ville (son origine : https://, le nom d’hôte, et le port s’il n’est pas habituel) à ",
    originText2: " dans le fichier de configuration de confchat, puis redémarrez le serveur :",
    originWhy: "Ce seul réglage couvre les deux vérifications : la Content-Security-Policy des pages (frame-ancestors), qui permet à vos pages d’encadrer le chat, et le contrôle d’origine du WebSocket du chat.",
    httpsNote: "Servez votre site et le chat en HTTPS (placez un proxy inverse devant confchat) : sinon les navigateurs bloquent le cadre dans une page HTTPS.",
    tryTitle: "Vérifier",
    tryText: "Ouvrez le chat tel que les internautes le verront :",
    tryLink: "Ouvrir le chat",
    noConference: "Aucune conférence n’est encore prévue sur ce serveur : créez-en une, puis saisissez son nom de canal ci-dessus.",
  },
};
const W = WORDS[LANG];

function attr(value) {
  return String(value).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function chatUrl(origin, conference) {
  return `${origin}/?conference=${encodeURIComponent(conference)}`;
}

export function snippet(origin, conference, height) {
  return `<iframe src="${attr(chatUrl(origin, conference))}" title="${attr(W.frameTitle(conference))}" `
    + `width="100%" height="${height}" style="border: 0; max-width: 100%;" loading="lazy"></iframe>`;
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
  const copyButton = el("button", { type: "button", class: "copy" }, W.copy);
  const link = el("a", { id: "embed-link" });
  const missing = el("p", { class: "warning", hidden: true }, W.noConference);
  const tryLink = el("a", { class: "button-link", target: "_blank", rel: "noopener" }, W.tryLink);

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
    copyStatus.textContent = ok ? W.copied : W.copyFailed;
    copyStatus.className = `copy-status ${ok ? "ok" : "error"}`;
  });

  const origin = el("code", {}, "listen.websocket_origins");
  const toml = el("pre", { class: "snippet config", tabindex: "0", "aria-label": "config.toml" },
    el("code", {}, '[listen]\nwebsocket_origins = ["https://www.city.example"]'));

  main.append(
    el("p", { class: "lead" }, W.intro),
    el("div", { class: "embed-layout" },
      el("div", { class: "embed-main" },
        el("section", { class: "card", "aria-labelledby": "settings-title" },
          el("h2", { id: "settings-title" }, W.settingsTitle),
          el("div", { class: "fields" },
            el("div", { class: "field" },
              el("label", { for: "embed-conference" }, W.conferenceLabel),
              el("p", { id: "embed-conference-hint", class: "hint" }, W.conferenceHint),
              conferenceInput),
            el("div", { class: "field" },
              el("label", { for: "embed-height" }, W.heightLabel),
              el("p", { id: "embed-height-hint", class: "hint" }, W.heightHint),
              heightInput)),
          missing),
        el("section", { class: "card", "aria-labelledby": "snippet-title" },
          el("h2", { id: "snippet-title" }, W.snippetTitle),
          pre,
          el("div", { class: "copy-row" }, copyButton, copyStatus),
          el("p", { class: "direct" }, W.directLink, " ", link)),
        el("section", { class: "card", "aria-labelledby": "origin-title" },
          el("h2", { id: "origin-title" }, W.originTitle),
          el("p", {}, W.originText1, origin, W.originText2),
          toml,
          el("p", {}, W.originWhy),
          el("p", {}, W.httpsNote))),
      el("aside", { class: "card embed-try", "aria-labelledby": "try-title" },
        el("h2", { id: "try-title" }, W.tryTitle),
        el("p", {}, W.tryText),
        tryLink)));
  render();
}

const main = document.getElementById("main");
if (main) build(main);
