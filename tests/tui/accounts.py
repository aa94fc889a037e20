"""The accounts and conference the client's end-to-end tests run with."""

from __future__ import annotations

from argon2 import PasswordHasher

CHANNEL = "#townhall"
PASSWORDS = {"moda": "moda-secret-pw", "modb": "modb-secret-pw", "mayor": "mayor-secret-pw",
             "boss": "boss-secret-pw", "root": "root-secret-pw"}
_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
CONFIG = {
    "moderation": {"max_pending_per_visitor": 0, "max_pending_per_address": 0},
    "accounts": [
        {"name": name, "password_hash": _hasher.hash(PASSWORDS[name]), "admin": name == "boss"}
        for name in ("moda", "modb", "mayor", "boss")
    ],
    "opers": [{"name": "root", "password_hash": _hasher.hash(PASSWORDS["root"])}],
    "conferences": [
        {"channel": CHANNEL, "title": "Ask the mayor", "moderators": ["moda", "modb"], "guests": ["mayor"],
         "state": "live", "slow_mode": 0},
    ],
}
VISITOR_CAPS = ("message-tags", "standard-replies")
VIEWER_CAPS = ("message-tags", "draft/message-redaction")


def visitor(server, nick, caps=VISITOR_CAPS):
    client = server.client(nick, caps=caps)
    client.send(f"JOIN {CHANNEL}")
    client.expect("366")
    return client


def ask(client, text) -> int:
    client.send(f"PRIVMSG {CHANNEL} :{text}")
    note = client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("PRIVMSG", "HELD"))
    return int(note.params[3])
