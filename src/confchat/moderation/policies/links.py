"""The links policy: URLs and bare domains, except those of allowed sites.

Options (defaults in brackets):

``allow`` [``[]``]
    Domains whose links pass, subdomains included: ``["ville.fr"]`` lets
    ``https://www.ville.fr/agenda`` and ``piscine.ville.fr`` through, not
    ``ville.fr.evil.com`` nor ``maville.fr``.
``tlds`` [:data:`TLDS`]
    The endings that make a bare ``word.word`` a domain (``ville.fr`` is
    one, ``M.Dupont`` and ``etc.Et`` are not). Addresses with a scheme
    (``http://``, ``hxxp://``) or ``www.`` count whatever their ending, and
    so do IPv4 addresses.
``action`` [``hold``]

Links are read after NFKC and case folding (full-width ``ｖｉｌｌｅ．ｆｒ``
is ``ville.fr``, as a browser reads it) with zero-width characters removed
and the defanged ``[.]`` and ``(.)`` read as dots; look-alike letters are
not folded, so a Cyrillic ``vіlle.fr`` is not the allowed ``ville.fr``.
E-mail addresses are not links. A message whose links are all allowed gets
an explicit ``publish``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import attrs

from .base import Decision, Message, Options, Verdict, action, option, strings

TLDS = (
    "com", "net", "org", "info", "biz", "fr", "eu", "be", "ch", "ca", "de", "uk", "io", "co", "me", "tv",
    "ly", "gg", "app", "dev", "xyz", "top", "site", "online", "shop", "club", "link", "live", "bzh",
    "paris", "ru", "cn", "us", "gl", "to", "ai", "gov", "edu",
)
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Full stops a browser reads as dots in a host name (IDNA), and the plain one.
_DOTS = re.compile("[.\uff0e\u3002\uff61]")
_DEFANGED = re.compile(r"\[\.\]|\(\.\)|\{\.\}")
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+")


def _host(url: str) -> str:
    """The host of a URL-ish string, without user, port or path."""
    rest = url.split("://", 1)[-1]
    rest = re.split(r"[/?#\\]", rest, maxsplit=1)[0]
    rest = rest.rsplit("@", 1)[-1]
    if rest.startswith("["):  # an IPv6 address: [::1]:8080
        return rest[: rest.find("]") + 1] if "]" in rest else rest
    return rest.split(":", 1)[0].strip(".,;!?()[]{}<>'\"«»")


def _domains(value: Any) -> tuple[str, ...]:
    out = []
    for item in strings(value):
        host = _host(unicodedata.normalize("NFKC", item).casefold())
        if not _DOMAIN.fullmatch(host):
            raise ValueError(f"{item!r} is not a domain")
        out.append(host)
    return tuple(out)


def _tlds(value: Any) -> tuple[str, ...]:
    out = tuple(t.lower().lstrip(".") for t in strings(value))
    for tld in out:
        if not tld.isalnum():
            raise ValueError(f"{tld!r} is not a top-level domain")
    return out


@attrs.frozen
class LinksPolicy(Options):
    kind = "links"
    allow: tuple[str, ...] = option((), _domains, "domains allowed, subdomains included")
    tlds: tuple[str, ...] = option(TLDS, _tlds, "endings that make a bare name a domain")
    action: Verdict = option(Verdict.HOLD, action, "hold or drop")
    pattern: re.Pattern[str] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        parts = [
            r"[a-z][a-z0-9+.-]{1,15}://\S+",  # a scheme: http://, hxxp://, ftp://
            r"(?<![\w@.-])www\d?\.\S+",  # www.
            r"(?<![\w@.-])\d{1,3}(?:\.\d{1,3}){3}(?![\w.-]*\w)(?:[:/]\S*)?",  # IPv4
        ]
        if self.tlds:
            endings = "|".join(sorted(map(re.escape, self.tlds), key=len, reverse=True))
            parts.append(rf"(?<![\w@.-])(?:{_LABEL}\.)+(?:{endings})(?![\w-])(?:[:/]\S*)?")
        object.__setattr__(self, "pattern", re.compile("|".join(parts)))

    def allowed(self, host: str) -> bool:
        return any(host == domain or host.endswith("." + domain) for domain in self.allow)

    def check(self, message: Message) -> Decision | None:
        text = message.text
        if not _DOTS.search(text) and "://" not in text:
            return None  # no dot, no link (the fast path of most messages)
        text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)).casefold()
        text = _DEFANGED.sub(".", text.replace("\u3002", ".").replace("\uff61", "."))
        hosts = [_host(m.group()) for m in self.pattern.finditer(text)]
        if not hosts:
            return None
        blocked = [h for h in dict.fromkeys(hosts) if not self.allowed(h)]
        if not blocked:
            return self.decide(Verdict.PUBLISH, "allowed links: " + ", ".join(dict.fromkeys(hosts)), 0.0)
        return self.decide(self.action, "links: " + ", ".join(blocked))
