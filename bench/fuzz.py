"""Fuzz the sans-IO core: a million generated lines from many clients.

Drives the same ``Server`` the transport drives, with in-memory outboxes
and fake clocks (as core_fanout.py does; no sockets, no trio): two live
conferences (one moderated, one open) with moderators, a guest and an admin
logged in with SASL, viewers, visitors who come and go, and connections that
never register. Each client's bytes pass through its own LineDecoder, as the
transport's do, and every line the decoder yields goes to
``Server.receive``. The lines are

* valid-looking IRC commands of every kind in the command table, with
  random parameters (nicks, channels, masks, numbers, tags);
* moderation commands (QUEUE, CONF, PREPARED, ANSWER, VOTE, REDACT) with
  random subcommands and arguments, ids and msgids that exist and that do not;
* questions with random text (any unicode, long, empty);
* garbage: random bytes, invalid UTF-8, NUL and CR, lone tags, over-long
  lines.

Some outboxes are never read, so their clients are evicted (SendQ); some
connections drop without QUIT; time moves on and ``Server.tick`` runs.

Prints one JSON object: lines, seconds, lines per second, exceptions raised
out of ``receive`` and ``command.crashed`` log events (both must be 0, with
the first few lines that caused them), INTERNAL_ERROR replies, invariant
violations (checked every ``--check-every`` lines), clients evicted, and
connections closed by reason.

Usage:  .venv/bin/python bench/fuzz.py [--lines 1000000] [--clients 400] [--seed 1]
Stops by itself (after ``--lines`` lines, or ``--max-seconds``).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import time
import traceback
from collections import Counter

import attrs
from argon2 import PasswordHasher

from confchat.config import Account, Config, ConferenceConfig, Oper
from confchat.core.commands import COMMANDS
from confchat.core.outbox import Outbox
from confchat.core.passwords import verify_password
from confchat.core.server import Server
from confchat.moderation.engine import SIMPLE_ACTIONS
from confchat.moderation.queue import State
from confchat.proto.codec import MAX_BODY_BYTES, MAX_LINE_BYTES, LineDecoder

PASSWORD = "fuzz-password"
HALL, OPEN, LOBBY = "#hall", "#open", "#lobby"
STAFF_NAMES = ("moda", "modb", "mayor", "boss")
QUEUE_SUBS = ("LIST", "NEXT", "APPROVE", "EDIT", "DROP", "MOVE", *(a.upper() for a in SIMPLE_ACTIONS), "BOGUS")
CONF_SUBS = ("INFO", "STATE", "SET", "ROLE", "BAN", "UNBAN", "MUTE", "UNMUTE", "BANS", "DISCONNECT", "SHIELD",
             "ANSWERING", "ANSWERED", "QUESTIONS", "AUDIT", "AUDIENCE", "EXPORT", "LIST", "CREATE", "BOGUS")
PREPARED_SUBS = ("LIST", "ADD", "DEL", "PUBLISH", "BOGUS")
CAP_SETS = ("message-tags server-time echo-message standard-replies", "standard-replies", "message-tags",
            "draft/message-redaction batch labeled-response message-tags", "", "multi-prefix userhost-in-names away-notify")
UNICODE = "é橋🚋ßαЖ\u200b\u202e\ufeff\U0001f600 \x01\x02\x03\x0f\x16\x1d\x1f"
TAGS = ("", "", "", "@label=x ", "@+draft/reply=m1 ", "@+typing=active;msgid=forged ", "@a=\\:\\s\\\\;b ",
        "@label=" + "l" * 60 + " ", "@time=2020-01-01T00:00:00Z ", "@ ", "@=;=;= ")


def config() -> Config:
    hashed = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
    base = Config()
    return attrs.evolve(
        base,
        accounts=tuple(Account(name, hashed, admin=name == "boss") for name in STAFF_NAMES),
        opers=(Oper("root", hashed),),
        conferences=(
            ConferenceConfig(channel=HALL, title="Ask the mayor", moderators=("moda", "modb"), guests=("mayor",),
                             state="live", mode="moderated"),
            ConferenceConfig(channel=OPEN, title="Open floor", moderators=("modb",), state="live", mode="open",
                             slow_mode=0),
        ),
        limits=attrs.evolve(base.limits, max_connections_per_ip=0),
    )


class Client:
    __slots__ = ("client", "outbox", "decoder", "role", "deaf", "account")

    def __init__(self, client, outbox: Outbox, role: str, deaf: bool, account: str | None = None) -> None:
        self.client = client
        self.outbox = outbox
        self.decoder = LineDecoder()
        self.role = role
        self.deaf = deaf  # its outbox is never read: it will be evicted
        self.account = account


class Fuzz:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.now = 1000.0
        self.wall = 1_700_000_000.0
        self.crashes: list[dict] = []
        self.errors: Counter[str] = Counter()
        self.exceptions: list[dict] = []
        self.exception_count = 0
        self.violations: list[str] = []
        self.kinds: Counter[str] = Counter()
        self.internal_errors = 0
        self.lines = 0
        self.current = b""
        self.serial = 0
        self.server = Server(config(), clock=lambda: self.now, wallclock=lambda: self.wall, log=self.log)
        self.clients: list[Client] = []
        self.staff: list[Client] = []

    def log(self, event: str, level: str = "info", **fields) -> None:
        if level in ("error", "critical"):
            self.errors[event] += 1
            if len(self.crashes) < 10:
                self.crashes.append({"event": event, "line": self.current.decode("utf-8", "backslashreplace"),
                                     **{k: str(v) for k, v in fields.items() if k != "exc_info"}})

    # ---------------------------------------------------------------- feeding the core

    def receive(self, c: Client, data: bytes) -> None:
        """``data`` through the client's decoder, each line to the core."""
        for line in c.decoder.feed(data):
            if c.client.gone:
                return
            self.current = line if isinstance(line, bytes) else b"<LineTooLong>"
            self.lines += 1
            try:
                self.server.receive(c.client, line)
            except Exception as exc:  # noqa: BLE001 - counting them is the point
                self.exception_count += 1
                if len(self.exceptions) < 10:
                    self.exceptions.append({"line": self.current.decode("utf-8", "backslashreplace"),
                                            "error": repr(exc), "traceback": traceback.format_exc()[-2000:]})
            self.verify()

    def verify(self) -> None:
        """Password checks, answered at once (the shell runs them in threads)."""
        logins = self.server.logins
        while (request := logins.next()) is not None:
            self.server.verified(request, verify_password(request.stored_hash, request.password))

    def connect(self, role: str, account: str | None = None) -> Client | None:
        deaf = role == "visitor" and self.rng.random() < 0.03
        sendq = self.server.limits.max_sendq
        outbox = Outbox(sendq)
        # Staff connect from addresses of their own: the others' failed logins
        # (random AUTHENTICATE, PASS and OPER lines) back their address off.
        ip = f"198.51.{self.rng.randrange(4)}.{self.rng.randrange(1, 255)}" if role != "staff" else \
            f"192.0.2.{self.serial % 250 + 1}"
        client = self.server.connect(ip, outbox)
        if client is None:
            return None
        self.serial += 1
        c = Client(client, outbox, role, deaf)
        if role == "unregistered":
            return c
        caps = self.rng.choice(CAP_SETS)
        if role == "staff":
            account = account or self.rng.choice(STAFF_NAMES)
            c.account = account
            blob = base64.b64encode(f"{account}\0{account}\0{PASSWORD}".encode()).decode()
            # A CAP REQ is all or nothing: sasl on its own, so that it is had.
            script = ["CAP REQ :sasl", f"CAP REQ :{caps or 'batch'}", f"NICK {account}{self.serial}", f"USER {account} 0 * :{account}",
                      "AUTHENTICATE PLAIN", f"AUTHENTICATE {blob}", "CAP END"]
        else:
            nick = f"{role[0]}{self.serial}"
            script = [f"CAP REQ :{caps}" if caps else "CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick}",
                      "CAP END"]
        script += [f"JOIN {HALL}", f"JOIN {OPEN}"] if role != "viewer" or self.rng.random() < 0.5 else [f"JOIN {HALL}"]
        self.receive(c, "".join(line + "\r\n" for line in script).encode())
        if role == "staff" and c.client.account is None:
            self.kinds["staff_login_refused"] += 1
        return c

    # ---------------------------------------------------------------- what the clients say

    def word(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            return rng.choice((HALL, OPEN, LOBBY, "#HALL", "#nowhere", "&local", "#", "0", "*", HALL + "," + OPEN))
        if roll < 0.45:
            return self.nick()
        if roll < 0.6:
            return self.item()
        if roll < 0.7:
            return rng.choice(("*!*@*", "$a:moda", "n!u@h", "*!*@198.51.0.*", "+o", "-o+v", "+b", "+m", "+i", "+k",
                               "-b", "+l", "10", "-1", "+ntms", "+q"))
        if roll < 0.8:
            return str(rng.choice((0, 1, -1, 2**31, 2**64, rng.randrange(1000))))
        return "".join(rng.choice("abcXYZ019_-[]\\^{}|`.:@!#$%&*" + UNICODE) for _ in range(rng.randint(1, 12)))

    def nick(self) -> str:
        if self.clients and self.rng.random() < 0.8:
            return self.rng.choice(self.clients).client.nick or "*"
        return self.rng.choice(("moda", "mayor", "nobody", "*", "a" * 40, "9lives", "nick!", "é"))

    def item(self) -> str:
        rng = self.rng
        conference = self.server.conferences[HALL if rng.random() < 0.8 else OPEN]
        q = conference.queue
        roll = rng.random()
        if q.order and roll < 0.5:
            return str(rng.choice(q.order[:50]))
        if q.items and roll < 0.75:
            return str(rng.randrange(1, q.next_id))
        if roll < 0.85:
            ids = [str(rng.randrange(1, q.next_id + 2)) for _ in range(rng.randint(2, 5))]
            return ",".join(ids)
        return rng.choice(("0", "-5", "x", "1e9", "٣", "99999999999999999999", ",", "1,,2", "+1", ""))

    def msgid(self) -> str:
        conference = self.server.conferences[HALL if self.rng.random() < 0.8 else OPEN]
        if conference.published and self.rng.random() < 0.7:
            return self.rng.choice(list(conference.published)[-50:])
        return self.rng.choice(("nope", "*", "", "m1", self.server.boot_id))

    def text(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.5:
            return f"question {self.lines}: when does the tram come?"
        if roll < 0.7:
            return "".join(rng.choice(UNICODE + "abc ") for _ in range(rng.randint(0, 80)))
        if roll < 0.8:
            return rng.choice(("", " ", ":", "\x01ACTION waves\x01", "www.scam.example/now", "CAPS LOCK IS FUN"))
        if roll < 0.9:
            return rng.choice("xé🚋 ") * rng.randint(100, 600)
        return "".join(chr(rng.randrange(1, 0x30000)) for _ in range(rng.randint(1, 30)))

    def command_line(self, c: Client) -> str:
        """Any command of the table, with random parameters."""
        rng = self.rng
        name = rng.choice(self.command_names)
        if rng.random() < 0.1:
            name = rng.choice((name.lower(), name.title(), "FOO", "001", "PRIVMSG\t"))
        params = [self.word() for _ in range(rng.randint(0, 5))]
        params = [p for p in params if p and " " not in p and not p.startswith(":")]
        line = " ".join([name, *params])
        if rng.random() < 0.6:
            line += " :" + self.text()
        return rng.choice(TAGS) + line

    def moderation_line(self, c: Client) -> str:
        rng = self.rng
        chan = HALL if rng.random() < 0.8 else rng.choice((OPEN, LOBBY, "#nowhere", "#Hall"))
        roll = rng.random()
        if roll < 0.45:
            sub = rng.choice(QUEUE_SUBS)
            if sub in ("APPROVE", "DROP", *(a.upper() for a in SIMPLE_ACTIONS)):
                rest = f"{self.item()}" + (f" :{self.text()}" if sub == "DROP" and rng.random() < 0.5 else "")
            elif sub == "EDIT":
                rest = f"{self.item()} :{self.text()}"
            elif sub == "MOVE":
                rest = f"{self.item()} {rng.choice(('top', 'bottom', '1', '3', '0', '-1', '999', 'x', 'Top'))}"
            elif sub == "LIST":
                rest = rng.choice(("", "1", "201", "x"))
            else:
                rest = rng.choice(("", self.word()))
            return f"QUEUE {chan} {sub} {rest}".rstrip()
        if roll < 0.7:
            sub = rng.choice(CONF_SUBS)
            args = {
                "STATE": lambda: rng.choice(("live", "closed", "open", "scheduled", "LIVE", "x")),
                "SET": lambda: rng.choice(("mode open", "mode moderated", "mode readonly", "slow_mode 0",
                                           "slow_mode 3", "slow_mode -1", "title :A new title", "auditorium no",
                                           "auditorium yes", "opens 2023-11-15T10:00", "ends tomorrow", "x y")),
                "ROLE": lambda: rng.choice(("mayor guest", "modb moderator", "nobody guest", "mayor king")),
                "BAN": lambda: f"{self.word()} {rng.choice(('', '60', '0', '-3'))} :{self.text()[:40]}",
                "MUTE": lambda: f"{self.word()} {rng.choice(('', '5', 'x'))}",
                "UNBAN": self.word, "UNMUTE": self.word, "DISCONNECT": lambda: f"{self.nick()} :bye",
                "SHIELD": lambda: rng.choice(("ON", "OFF", "ON CLOSED raid", "on", "maybe", "ON :a reason")),
                "ANSWERING": self.item, "ANSWERED": self.item,
                "AUDIENCE": lambda: rng.choice(("", "1", "2 v", "v", "é")),
                "EXPORT": lambda: rng.choice(("", "html", "json internal", "md", "pdf", "txt internal")),
                "CREATE": lambda: f"#c{rng.randrange(50)} :Conference",
                "QUESTIONS": lambda: rng.choice(("", "1", "999")), "AUDIT": lambda: rng.choice(("", "1", "5000")),
            }.get(sub, lambda: "")()
            if sub in ("LIST", "CREATE"):
                return f"CONF {sub} {args}".rstrip()
            return f"CONF {chan} {sub} {args}".rstrip()
        if roll < 0.8:
            return f"ANSWER {chan} {self.item()} :{self.text()}"
        if roll < 0.88:
            sub = rng.choice(PREPARED_SUBS)
            name = rng.choice(("intro", "bridge", "a b", ""))
            tail = {"ADD": f" :{self.text()}", "PUBLISH": f" {self.item()}" if rng.random() < 0.5 else ""}.get(sub, "")
            return f"PREPARED {chan} {sub} {name}{tail}"
        if roll < 0.95:
            return f"VOTE {chan} {self.item()}"
        return f"REDACT {chan} {self.msgid()}" + (f" :{self.text()[:50]}" if rng.random() < 0.5 else "")

    def garbage(self) -> bytes:
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            return bytes(rng.randrange(256) for _ in range(rng.randint(0, 80)))
        if roll < 0.5:  # invalid UTF-8 inside an otherwise fine line
            bad = rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe2\x82"))
            return b"PRIVMSG " + HALL.encode() + b" :caf" + bad + b" ok"
        if roll < 0.6:
            return rng.choice((b"\x00", b"PRIVMSG #hall :a\x00b", b"QUEUE #hall APPROVE 1\rQUIT", b"\r", b"@", b":",
                               b" ", b"@a", b": PRIVMSG", b"@a=b", b" @x y", b"::: :::", b"\t\t"))
        if roll < 0.8:  # just over the limits
            n = rng.choice((MAX_BODY_BYTES - 2 - 19, MAX_BODY_BYTES - 19, MAX_BODY_BYTES + 50, 5000))
            return b"PRIVMSG #hall :" + b"y" * n
        if roll < 0.9:  # a tag section at and past its limits
            return b"@" + b"k=" + b"v" * rng.choice((4000, 4092, 4100, 9000)) + b" PRIVMSG #hall :tags"
        return b"z" * rng.choice((MAX_LINE_BYTES - 1, MAX_LINE_BYTES + 1, 3 * MAX_LINE_BYTES))

    def line_for(self, c: Client) -> tuple[str, bytes]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            kind, line = "command", self.command_line(c).encode("utf-8", "surrogatepass")
        elif roll < 0.55 or (c.role == "staff" and roll < 0.8):
            kind, line = "moderation", self.moderation_line(c).encode("utf-8", "surrogatepass")
        elif roll < 0.8:
            chan = HALL if rng.random() < 0.75 else OPEN
            kind, line = "question", f"PRIVMSG {chan} :{self.text()}".encode("utf-8", "surrogatepass")
            if chan not in c.client.channels and rng.random() < 0.5:  # (re)join first, as a client would
                line = f"JOIN {chan}\r\n".encode() + line
        else:
            kind, line = "garbage", self.garbage()
        return kind, line

    # ---------------------------------------------------------------- the run

    def populate(self) -> None:
        target = self.args.clients
        roles = ["staff"] * 8 + ["viewer"] * (target // 10) + ["unregistered"] * (target // 20)
        roles += ["visitor"] * (target - len(roles))
        for role in roles:
            c = self.connect(role)
            if c is not None:
                self.clients.append(c)
        self.staff = [c for c in self.clients if c.role == "staff"]

    def replace_gone(self) -> None:
        alive = []
        for c in self.clients:
            if c.client.gone:
                c.outbox.take()
                replacement = self.connect(c.role)
                if replacement is not None:
                    alive.append(replacement)
            else:
                alive.append(c)
        self.clients = alive
        self.staff = [c for c in alive if c.role == "staff"]

    def drain(self) -> None:
        for c in self.clients:
            if not c.deaf:
                data = c.outbox.take()
                if b"INTERNAL_ERROR" in data:
                    self.internal_errors += data.count(b"INTERNAL_ERROR")

    def reset(self) -> None:
        """An admin puts the conferences back on air: the random CONF and
        MODE lines close them, make them read-only or invite-only, ban and
        mute masks, raise the shield, and would otherwise leave the rest of
        the run with no questions."""
        admin = next((c for c in self.staff if c.client.account == "boss" and not c.client.gone), None)
        if admin is None:
            admin = self.connect("staff", account="boss")
            if admin is None or admin.client.account != "boss":
                return
            self.clients.append(admin)
            self.staff.append(admin)
        lines = [f"JOIN {HALL},{OPEN}"]  # MODE needs the admin in the channel
        for chan, mode in ((HALL, "moderated"), (OPEN, "open")):
            lines += [f"CONF {chan} STATE live", f"CONF {chan} SET mode {mode}", f"CONF {chan} SET slow_mode 0",
                      f"CONF {chan} SET auditorium yes", f"CONF {chan} SHIELD OFF", f"MODE {chan} -imlk *"]
            conference = self.server.conferences[chan]
            for r in {(r.kind, r.mask) for r in conference.restrictions}:
                lines.append(f"CONF {chan} UN{r[0].upper()} :{r[1]}")
        self.kinds["reset"] += 1
        for chan in (HALL, OPEN):
            channel = self.server.channels[chan]
            if not channel.members and ("i" in channel.modes or channel.key or channel.limit or channel.bans):
                # An empty conference channel left +i, +k, +l or +b cannot be
                # joined again by its own moderators or admins, and MODE needs
                # a member: no line can undo it (README, "Fuzzing"). The
                # harness lifts the modes itself and counts it.
                self.kinds["locked_out_conference"] += 1
                channel.modes.discard("i")
                channel.key, channel.limit, channel.bans = "", 0, []
        self.receive(admin, "".join(line + "\r\n" for line in lines).encode("utf-8", "surrogatepass"))

    def check(self) -> None:
        server = self.server
        for conference in server.conferences.values():
            q = conference.queue
            undecided = [i.id for i in q.items.values() if i.state in (State.PENDING, State.HELD, State.FORWARDED)]
            if q.order != sorted(undecided, key=lambda i: (q.items[i].rank, i)):
                self.violations.append(f"{conference.channel}: queue order is not the undecided by (rank, id)")
            shown = [i for i in q.items.values() if i.state is State.PUBLISHED and not i.redacted]
            if any(i.msgid not in conference.published for i in shown):
                self.violations.append(f"{conference.channel}: a published item without its publication")
        for channel in server.channels.values():
            for member in channel.members:
                if member.gone or server.clients.get(member.id) is not member:
                    self.violations.append(f"{channel.name}: a member that is not a live client")
                    break

    def run(self) -> dict:
        args = self.args
        self.command_names = sorted(COMMANDS)
        started = time.perf_counter()
        cpu_started = time.process_time()
        deadline = started + args.max_seconds
        self.populate()
        rng = self.rng
        next_drain = next_tick = next_check = 0
        next_reset = args.reset_every
        while self.lines < args.lines and time.perf_counter() < deadline:
            # A quarter of the lines come from the staff (a handful of
            # connections), so that the queue is decided on as it fills.
            c = rng.choice(self.staff if self.staff and rng.random() < 0.25 else self.clients)
            if c.client.gone:
                self.replace_gone()
                continue
            kind, line = self.line_for(c)
            self.kinds[kind] += 1
            roll = rng.random()
            if roll < 0.01:
                self.server.connection_lost(c.client)
                continue
            if roll < 0.05 and len(line) > 2:  # split anywhere, as TCP may
                cut = rng.randrange(1, len(line))
                self.receive(c, line[:cut])
                self.receive(c, line[cut:] + b"\r\n")
            else:
                self.receive(c, line + rng.choice((b"\r\n", b"\r\n", b"\n", b"\r\r\n")))
            self.now += 0.002
            self.wall += 0.002
            if self.lines >= next_drain:
                next_drain = self.lines + 500
                self.drain()
            if self.lines >= next_tick:
                next_tick = self.lines + 2000
                self.now += 1.0
                self.wall += 1.0
                self.server.tick()
                self.replace_gone()
            if self.lines >= next_check:
                next_check = self.lines + args.check_every
                self.check()
            if self.lines >= next_reset:
                next_reset = self.lines + args.reset_every
                self.reset()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        self.drain()
        self.check()
        stats = self.server.stats
        conferences = {
            name: {"items": len(conf.queue.items), "undecided": len(conf.queue.order),
                   "published": sum(1 for i in conf.queue.items.values() if i.state is State.PUBLISHED),
                   "audit": len(conf.audit)}
            for name, conf in self.server.conferences.items() if name in (HALL, OPEN)
        }
        conferences["created_by_conf_create"] = len(self.server.conferences) - 2
        return {
            "lines": self.lines,
            "seconds": round(seconds, 1),
            "lines_per_s": round(self.lines / seconds),
            "cpu_seconds": round(cpu_seconds, 1),
            "lines_per_cpu_s": round(self.lines / cpu_seconds),
            "exceptions": self.exception_count,
            "command_crashed": self.errors.get("command.crashed", 0),
            "error_log_events": dict(self.errors),
            "internal_error_replies": self.internal_errors,
            "invariant_violations": len(self.violations),
            "first_violations": self.violations[:5],
            "clients_evicted_sendq": stats.sendq_evictions,
            "connections_accepted": sum(stats.connections_accepted.values()),
            "connections_closed": dict(stats.connections_closed),
            "generated": dict(self.kinds),
            "conferences": conferences,
            "first_crashes": self.crashes,
            "first_exceptions": self.exceptions,
            "seed": args.seed,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check-every", type=int, default=50_000, help="invariants, every so many lines")
    parser.add_argument("--reset-every", type=int, default=10_000, help="conferences back on air, every so many lines")
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args()
    print(json.dumps(Fuzz(args).run()))


if __name__ == "__main__":
    main()
