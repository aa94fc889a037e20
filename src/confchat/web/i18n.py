"""The words the page shells need, in English and French; each page's
module carries the rest of its own words. The language is the config's
``branding.language`` unless the browser prefers the other one."""

from __future__ import annotations

LANGUAGES = ("en", "fr")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title_visitor": "Live questions",
        "title_moderator": "Moderation console",
        "title_guest": "Guest console",
        "title_embed": "Embed the chat on your site",
        "skip_to_content": "Skip to content",
        "needs_javascript": "This page needs JavaScript to connect to the chat.",
    },
    "fr": {
        "title_visitor": "Questions en direct",
        "title_moderator": "Console de modération",
        "title_guest": "Console de l'invité",
        "title_embed": "Intégrer le chat à votre site",
        "skip_to_content": "Aller au contenu",
        "needs_javascript": "Cette page a besoin de JavaScript pour se connecter au chat.",
    },
}


def choose_language(configured: str, accept_language: str) -> str:
    """The browser's preferred supported language (Accept-Language: highest
    q, earliest on a tie), else the configured one."""
    best_q, best = 0.0, ""
    for part in accept_language.split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        if primary in LANGUAGES and q > best_q:
            best_q, best = q, primary
    if best:
        return best
    return configured if configured in LANGUAGES else "en"
