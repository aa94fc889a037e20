"""The first-run demo: ``confchat serve`` with no conference configured opens
a ready moderated conference with three staff accounts.

The demo is ordinary configuration kept in the data directory
(``demo.toml``): an ``[[accounts]]`` entry for each of ``admin``,
``moderator`` and ``guest`` (argon2id hashes, never the passwords) and one
``[[conferences]]`` entry, live and moderated. The first start writes the
file with fresh random passwords and hands them back once, for the startup
banner; later starts read the file and have no passwords to show.
``--reset-demo`` writes new passwords (the conference and its history,
which live in the database, stay).

A configured conference (a config file with ``[[conferences]]``) or
``--no-demo`` turns the demo off: the file is then neither read nor written.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from typing import Any, Callable

import attrs
import tomli_w

from .config import Account, Config, ConferenceConfig, ConfigError, from_dict, to_dict
from .core.passwords import hash_password
from .proto.casemap import casefold

#: The file the demo lives in, inside ``server.data_dir``.
DEMO_FILE = "demo.toml"
DEMO_CHANNEL = "#demo"
DEMO_TITLE = "Ask the guest (demo)"
DEMO_DESCRIPTION = (
    "A demo conference: ask a question here, approve it or forward it at /moderator, "
    "answer it at /guest."
)
#: The demo's accounts, in the order the banner shows them.
ADMIN, MODERATOR, GUEST = "admin", "moderator", "guest"
ACCOUNTS = (ADMIN, MODERATOR, GUEST)
#: Generated passwords: four groups of four characters from an alphabet
#: without look-alikes (0/o, 1/l/i), about 79 bits; easy to copy by hand.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
PASSWORD_GROUPS = 4

HEADER = """\
# The first-run demo of confchat serve: written when the server started with
# no conference configured. Passwords are stored as argon2id hashes only; they
# were printed once, in the startup banner. New passwords:
#   confchat serve --reset-demo
# Turn the demo off with --no-demo, or by configuring a [[conferences]] entry.

"""


@attrs.define
class Demo:
    """The demo as this start sees it."""

    path: str
    channel: str
    accounts: tuple[str, ...]
    # The accounts' passwords when they were just generated (first start or
    # --reset-demo), else None: shown once, never stored.
    passwords: dict[str, str] | None = None
    # New accounts not yet written to ``path`` (see ``save``).
    _unsaved: dict[str, Any] | None = None

    def save(self) -> None:
        """Write new passwords' hashes to demo.toml. The server calls this
        once it is listening, just before the banner shows the passwords:
        a start that fails (an address in use) leaves the file as it was,
        so no password is ever kept that nobody saw."""
        if self._unsaved is not None:
            _write(self.path, self._unsaved)
            self._unsaved = None


def wanted(config: Config, disabled: bool) -> bool:
    """Whether this start runs the demo: not with --no-demo, nor when the
    configuration declares a conference of its own."""
    return not disabled and not config.conferences


def demo_path(config: Config) -> str:
    return os.path.join(config.server.data_dir, DEMO_FILE)


def prepare(
    config: Config,
    *,
    disabled: bool = False,
    reset: bool = False,
    hasher: Callable[[str], str] = hash_password,
) -> tuple[Config, Demo | None]:
    """``config`` with the demo's accounts and conference added, and the
    demo; ``(config, None)`` when the demo is off.

    Reads ``data_dir/demo.toml``; at the first start (no file) or with
    ``reset`` makes new passwords, whose hashes ``Demo.save`` writes.
    Raises ``ConfigError`` naming the file when it cannot be read, or when
    its accounts clash with the configured ones.
    """
    if not wanted(config, disabled):
        return config, None
    path = demo_path(config)
    passwords: dict[str, str] | None = None
    if reset or not os.path.exists(path):
        passwords = {name: new_password() for name in ACCOUNTS}
        section = _section(passwords, hasher)
    else:
        section = _read(path)
    merged = merge(config, section, path)
    channel = section["conferences"][0]["channel"]
    names = tuple(a["name"] for a in section["accounts"])
    return merged, Demo(path, channel, names, passwords, section if passwords else None)


def new_password() -> str:
    """A random password like ``k7mq-x2ta-pn9d-vhe3``."""
    return "-".join(
        "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(PASSWORD_GROUPS)
    )


def _section(passwords: dict[str, str], hasher: Callable[[str], str]) -> dict[str, Any]:
    """The demo's configuration as TOML data."""
    accounts = [
        to_dict(Account(name=name, password_hash=hasher(password), admin=name == ADMIN))
        for name, password in passwords.items()
    ]
    conference = ConferenceConfig(
        channel=DEMO_CHANNEL,
        title=DEMO_TITLE,
        description=DEMO_DESCRIPTION,
        moderators=(MODERATOR,),
        guests=(GUEST,),
        state="live",
        mode="moderated",
    )
    return {"accounts": accounts, "conferences": [to_dict(conference)]}


def merge(config: Config, section: dict[str, Any], path: str) -> Config:
    """``config`` plus the demo's accounts and conference, validated like a
    config file (so a damaged demo.toml is an error naming it)."""
    mine = {casefold(a.name) for a in config.accounts}
    for account in section["accounts"]:
        if casefold(str(account.get("name", ""))) in mine:
            raise ConfigError(
                f'{path}: the demo account "{account["name"]}" is also in the configured '
                "[[accounts]]; rename one, or start with --no-demo"
            )
    data = to_dict(config)
    data["accounts"] = data["accounts"] + section["accounts"]
    data["conferences"] = data["conferences"] + section["conferences"]
    try:
        return from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e} (delete the file, or restart with --reset-demo)") from None


def _read(path: str) -> dict[str, Any]:
    """demo.toml's accounts and conference; any other key is an error."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: invalid TOML: {e} (delete the file, or restart with --reset-demo)") from None
    extra = sorted(set(data) - {"accounts", "conferences"})
    if extra:
        raise ConfigError(f'{path}: unknown key "{extra[0]}" (a demo file holds [[accounts]] and [[conferences]])')
    accounts, conferences = data.get("accounts"), data.get("conferences")
    if not isinstance(accounts, list) or not accounts or not all(isinstance(a, dict) for a in accounts):
        raise ConfigError(f"{path}: no [[accounts]] (delete the file, or restart with --reset-demo)")
    if not isinstance(conferences, list) or len(conferences) != 1 or not isinstance(conferences[0], dict):
        raise ConfigError(f"{path}: expected one [[conferences]] (delete the file, or restart with --reset-demo)")
    return {"accounts": accounts, "conferences": conferences}


def _write(path: str, section: dict[str, Any]) -> None:
    """Write demo.toml readable by its owner only (it holds hashes), through
    a temporary file renamed over it: a crash never leaves half a file."""
    directory = os.path.dirname(path) or "."
    temporary = f"{path}.tmp"
    try:
        os.makedirs(directory, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(HEADER + tomli_w.dumps(section))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as e:
        raise ConfigError(f"{path}: cannot write: {e.strerror or e}") from None


def banner(demo: Demo, http_origins: list[str]) -> list[str]:
    """The demo's part of the startup banner: the three pages and, at the
    first start only, the passwords. ``http_origins`` are the web pages'
    base addresses (``http://127.0.0.1:8080``); none when HTTP is off."""
    from urllib.parse import quote

    conference = quote(demo.channel, safe="")
    lines = [f"Demo: the moderated conference {demo.channel} is live. Open three browser tabs:"]
    passwords = demo.passwords or {}

    def account(name: str) -> str:
        if name in passwords:
            return f"account {name}, password {passwords[name]}"
        return f"account {name}"

    origin = http_origins[0] if http_origins else ""
    if origin:
        lines.append(f"  Visitor:    {origin}/?conference={conference}   (pick any nickname)")
        lines.append(f"  Moderator:  {origin}/moderator   {account(MODERATOR)}")
        lines.append(f"  Guest:      {origin}/guest?conference={conference}   {account(GUEST)}")
        lines.append(f"  Admin:      {origin}/admin   {account(ADMIN)} (and staff in every conference)")
    else:
        lines[0] = f"Demo: the moderated conference {demo.channel} is live (HTTP is off: IRC clients only)."
        for name in (MODERATOR, GUEST, ADMIN):
            lines.append(f"  {name.capitalize() + ':':<11} {account(name)} (SASL PLAIN)")
    if demo.passwords:
        lines.append(f"  The passwords are shown only this once; {demo.path} keeps their hashes.")
    else:
        lines.append(
            "  The passwords were printed when the demo was set up (the first start);"
            " new ones: confchat serve --reset-demo"
        )
    lines.append("  Turn the demo off with --no-demo, or configure a [[conferences]] entry.")
    return lines
