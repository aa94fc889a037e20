"""A client Session wired to the server core, sans-IO on both sides (as
h11's ConnectionPair): each line the session writes goes into the core,
each line the core answers comes back to the session, until both are quiet."""

from __future__ import annotations

import sys
from pathlib import Path

from argon2 import PasswordHasher

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from helpers import Net  # noqa: E402  (tests/core/helpers.py)

from confchat.config import Account, Config, ConferenceConfig, Oper  # noqa: E402
from confchat.tui.session import Session  # noqa: E402

CHANNEL = "#townhall"
PASSWORDS = {"moda": "moda-secret-pw", "modb": "modb-secret-pw", "mayor": "mayor-secret-pw", "boss": "boss-secret-pw"}
_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


def config(**moderation) -> Config:
    import attrs

    base = Config(
        accounts=(
            Account("moda", _hasher.hash(PASSWORDS["moda"])),
            Account("modb", _hasher.hash(PASSWORDS["modb"])),
            Account("mayor", _hasher.hash(PASSWORDS["mayor"])),
            Account("boss", _hasher.hash(PASSWORDS["boss"]), admin=True),
        ),
        opers=(Oper("root", _hasher.hash("root-secret-pw")),),
        conferences=(
            ConferenceConfig(
                channel=CHANNEL,
                title="Ask the mayor",
                moderators=("moda", "modb"),
                guests=("mayor",),
                state="live",
                slow_mode=0,  # one visitor asks many questions in a row here
            ),
        ),
    )
    return attrs.evolve(
        base,
        moderation=attrs.evolve(base.moderation, max_pending_per_visitor=0, max_pending_per_address=0, **moderation),
    )


class ShellNet(Net):
    """A Net whose stand-in shell also hashes the passwords ACCOUNTS CREATE
    asks for (cheaply), as the real shell does in its worker threads."""

    def run_verifications(self) -> int:
        from confchat.core.logins import Hashing
        from confchat.core.passwords import verify_password

        count = 0
        while (request := self.server.logins.next()) is not None:
            if isinstance(request, Hashing):
                self.server.verified(request, _hasher.hash(request.password))
            else:
                self.server.verified(request, verify_password(request.stored_hash, request.password))
            count += 1
        return count


class Pair:
    """One terminal-client session on one connection to ``net``'s core."""

    def __init__(self, net: Net, account: str, password: str | None = None, channel: str = CHANNEL,
                 ip: str = "198.51.100.10") -> None:
        self.net = net
        self.session = Session(account, password or PASSWORDS[account], channel=channel, clock=net.wall)
        self.ip = ip
        self.conn = None
        self.sent: list[str] = []

    @property
    def view(self):
        return self.session.view

    def connect(self) -> "Pair":
        self.conn = self.net.connect(self.ip)
        self.pump(self.session.connected())
        return self

    def pump(self, lines: list[str]) -> None:
        """Send ``lines`` and everything the answers lead to."""
        for _ in range(1000):
            if not lines:
                return
            replies = []
            for line in lines:
                self.sent.append(line)
                self.conn.send(line)
            for msg in self.conn.take():
                replies.extend(self.session.receive(msg))
            lines = replies
        raise AssertionError("the session and the core never went quiet")

    def sync(self) -> None:
        """Take what the core sent meanwhile (other clients' doings)."""
        self.pump(["PING :sync"])

    def drop_connection(self) -> None:
        """The server side closes this connection."""
        self.net.server.disconnect(self.conn.client, "test")
        self.session.lost("closed by the test")
        self.conn = None
