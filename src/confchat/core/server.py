"""The server state machine: every client, nick and channel, and the rules.

This is the sans-IO heart of confchat. The transport calls four entry points:

* :meth:`Server.connect` when a connection opens (may refuse it);
* :meth:`Server.receive` with each raw line (returns a flood-control delay);
* :meth:`Server.connection_lost` when the peer went away;
* :meth:`Server.tick` about once a second (registration and ping timeouts);

plus :meth:`Server.shutdown`; the password checker hands each answer back
through :meth:`Server.verified` (see core/logins.py), the screener its
decisions through :meth:`Server.screened` (core/screening.py). Output (the
methods of :class:`~.output.Output`) goes into each client's :class:`Outbox`
and is never awaited; a client to be disconnected
gets its outbox closed and the transport closes the socket once that is
flushed. Time comes from injected clocks, so tests drive everything without
sockets or sleeps.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter, deque
from typing import Any, Callable, Iterable, Mapping

from .. import __version__
from ..config import Config
from ..proto import numerics as N
from ..proto.casemap import casefold
from ..proto.codec import (
    BodyTooLong,
    InvalidUtf8,
    LineTooLong,
    ProtocolError,
    TagsTooLong,
    decode_line,
)
from ..proto.message import Message
from ..moderation.conference import Conference, Role
from ..moderation.engine import Engine
from ..moderation.intake import Outcome
from ..moderation.policybook import PolicyBook
from ..moderation.shield import Thresholds
from .caps import StsPolicy
from .census import Census
from .cloak import KEY_BYTES, cloak_host
from .accounts import AccountBook, AccountEvent, StoredAccount
from .channel import Channel
from .handlers.registration import isupport_tokens
from .client import Client
from .commands import COMMANDS
from .direct import TOLD
from .notify import monitor_notify
from .effects import apply
from .members import Member, announce, drop_nick
from .ops import Op, Proposals, carry_out, decide, outcome_data
from .exports import ExportTokens
from .flood import TokenBucket
from .journal import Journal
from .inflight import HOLD_PACE, InFlight, flush_labeled, hold, release, sends_only
from .logins import Verification, Verifications
from .screening import Screenings
from .stats import Stats
from .throttle import LoginThrottle
from .outbox import Outbox
from .output import Output


def _no_log(event: str, **fields: Any) -> None:
    return None


class Server(Output):
    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        # log(event, level="info", **fields): the shell passes structlog here.
        log: Callable[..., None] = _no_log,
        restored: Iterable[Conference] = (),
        policies: Mapping[str, Any] | None = None,
        stored_accounts: Iterable[StoredAccount] = (),
        account_audit: Iterable[AccountEvent] = (),
        # The key of cloaked hosts and visitor identities (core/cloak.py),
        # kept by the shell; None: a random one for this process.
        cloak_key: bytes | None = None,
    ) -> None:
        self.config = config
        self.limits = config.limits
        self.name = config.server.name
        self.clock = clock
        self.wallclock = wallclock
        self.log = log
        self.commands = COMMANDS
        self.started_wall = wallclock()
        self.clients: dict[int, Client] = {}
        self.nicks: dict[str, Client] = {}
        self.channels: dict[str, Channel] = {}
        self.per_ip: Counter[str] = Counter()
        self.elsewhere_per_ip: Counter[str] = Counter()  # the cluster's other nodes' (core/addresses.py)
        self.monitors: dict[str, set[Client]] = {}
        self.whowas: deque[tuple[str, str, str, str, str, float]] = deque(
            maxlen=config.limits.whowas_length
        )
        self._ids = itertools.count(1)
        # msgids: a random per-process prefix and a counter, unique and cheap.
        self.boot_id = self._msgid_prefix = os.urandom(4).hex()
        self._msgids = itertools.count(1)
        self._doomed: list[tuple[Client, str]] = []
        self.cloak_key = cloak_key if cloak_key is not None else os.urandom(KEY_BYTES)
        self.census = Census()  # LUSERS's figures and WHO's public users, kept exact
        self._capture: Client | None = None
        self._captured: list[Message] = []
        self.inflight = InFlight()  # commands waiting for the cluster's log (core/inflight.py)
        self.isupport = isupport_tokens(config)
        # Staff accounts: the config file's, and those stored by ACCOUNTS
        # (core/accounts.py); ``accounts`` is the book's live map by folded name.
        self.account_book = AccountBook(config.accounts, stored_accounts, account_audit)
        self.accounts = self.account_book.accounts
        self.conferences: dict[str, Conference] = {}
        self.exports = ExportTokens(clock)  # transcript download links
        # Durability: storage (when attached) commits what the journal marks.
        self.journal = Journal()
        self.account_book.journal = self.journal
        # Every moderation decision, in every conference, with the automatic
        # policies of each (``policies``: the built-ins and plugins by name).
        moderation = config.moderation
        # A cluster's node (cluster/): its number, given by the cluster, and
        # where ops go to be logged (core/ops.py); 0 and None on its own.
        self.node_number = 0
        self.cluster: Proposals | None = None
        self.last_ban_removed = 0  # visitors the latest ban removed here (its confirmation)
        self.counting = True  # false while another node's op is carried out: its metrics are that node's
        # The visitors of each conference on the cluster's other nodes
        # (folded name -> connection id -> Member, core/members.py).
        self.elsewhere: dict[str, dict[int, Member]] = {}
        self.elsewhere_staff: dict[str, dict[int, Member]] = {}  # and their staff
        self.stale: dict[int, set[int]] = {}  # node -> its visitors not told again since its roster
        # The nicks other nodes' clients hold (folded -> (node, connection
        # id)), and this node's claims not yet read back from the log.
        self.elsewhere_nicks: dict[str, tuple[int, int]] = {}
        self.unconfirmed: dict[str, Client] = {}
        # While an op of the cluster's log is carried out, the engine's time
        # is the entry's (``logged``): every node decides the same.
        self._logged_at: float | None = None
        self.engine = Engine(
            self._decision_time, self.new_msgid,
            book=PolicyBook(moderation.policies, policies),
            timer=clock,
            budget=moderation.policy_timeout,
            shield=Thresholds(moderation.shield_window, moderation.shield_messages, moderation.shield_joins),
            max_pending=moderation.max_pending_per_visitor,
            max_pending_per_address=moderation.max_pending_per_address,
            shared_addresses=self.limits.connection_limit_exempt,
        )
        self.screenings = Screenings()  # asynchronous policies, for the shell
        self.logins = Verifications()  # password checks for the shell to run
        # Back-off of password guesses, per address and per name (core/throttle.py).
        self.login_throttle = LoginThrottle(
            self.limits.login_failures_allowed, self.limits.login_backoff, self.limits.login_backoff_max,
            self.limits.login_failure_memory, shared=self.limits.connection_limit_exempt,
        )
        self.stats = Stats()
        # IRCv3 STS, set by the shell once it knows its TLS port; None: off.
        self.sts: StsPolicy | None = None
        # Conferences: restored from storage, with the config file's edits.
        stored = {c.folded: c for c in restored}
        for settings in config.conferences:
            conference = stored.pop(casefold(settings.channel), None)
            if conference is None:
                conference = Conference(settings)
            else:
                conference.apply_declared(settings)
            self.add_conference(conference)
        for conference in stored.values():
            self.add_conference(conference)
        # Each conference's policies are built now (a long word list takes a
        # moment to compile), not on its first visitor message.
        for conference in self.conferences.values():
            self.engine.book.for_conference(conference, log)

    # ------------------------------------------------------------------ the cluster's log

    def _decision_time(self) -> float:
        return self.wallclock() if self._logged_at is None else self._logged_at

    def logged(self, op: Op, entry: str, at: float) -> None:
        """Carry out ``op``, entry ``entry`` of the cluster's log written at
        ``at`` (the log's clock): its msgids come from the entry's id."""
        prefix, counter = self._msgid_prefix, self._msgids
        self._logged_at, self._msgid_prefix, self._msgids = at, f"{entry}.", itertools.count(1)
        try:
            carry_out(self, op)
        finally:
            self._logged_at, self._msgid_prefix, self._msgids = None, prefix, counter
        release(self)
        self._reap()

    def told(self, op: Op) -> None:
        """Another node's told op (a private or staff-only message, core/direct.py)."""
        if op.node != self.node_number and op.name in TOLD:
            TOLD[op.name](self, op)
            self._reap()

    def join_cluster(self, number: int, proposals: Proposals) -> None:
        """This server is node ``number`` of a cluster: connection ids are
        unique across the cluster from now on."""
        self.node_number, self.cluster = number, proposals
        self._ids = itertools.count(number << 32 | 1)

    def visitors_present(self, channel: Channel, *, here_only: bool = False) -> int:
        """The conference's audience: its members who are not staff, on
        this node and (unless ``here_only``) on the cluster's others."""
        here = len(channel.members) - len(channel.staff)
        return here if here_only else here + len(self.elsewhere.get(channel.folded, ()))

    # ------------------------------------------------------------------ entry points

    def connect(self, ip: str, outbox: Outbox, transport: str = "tcp", tls: str | None = None) -> Client | None:
        """A new connection from ``ip``; None (with its outbox closed) if
        refused. ``tls``: None for a plain connection, else the name the
        client asked for (SNI, "" if none)."""
        limit = self.limits.max_connections_per_ip
        here_and_elsewhere = self.per_ip[ip] + self.elsewhere_per_ip[ip]  # other nodes': core/addresses.py
        if limit and here_and_elsewhere >= limit and ip not in self.limits.connection_limit_exempt:
            outbox.close(b"ERROR :Closing Link: Too many connections from your IP address\r\n")
            self.log("connection.refused", level="warning", reason="per_ip_limit")
            self.stats.connections_refused["per_ip_limit"] += 1
            return None
        now = self.clock()
        bucket = TokenBucket(self.limits.flood_burst, self.limits.flood_rate, now)
        client = Client(next(self._ids), ip, outbox, now, bucket, transport)
        client.connection_key = f"{self.boot_id}-{client.id}"
        if self.config.server.cloak_hosts:
            client.cloak = cloak_host(self.cloak_key, ip)
        self.clients[client.id] = client
        self.per_ip[ip] += 1
        self.stats.connections_accepted[transport] += 1
        client.tls = tls
        return client

    def receive(self, client: Client, raw: bytes | LineTooLong) -> float:
        """Handle one raw line from ``client``; return seconds to wait before the
        next line (flood control)."""
        if client.gone:
            return 0.0
        now = self.clock()
        client.last_active = now
        client.ping_sent = None
        delay = client.bucket.take(now)
        if delay and not client.throttled:
            client.throttled = True
            self.stats.flood_throttles += 1
            self.note(client, "*", "RATE_LIMITED", "You are sending too fast; your lines are being delayed")
        elif not delay:
            client.throttled = False
        self.stats.lines_in[client.transport] += 1
        if client.verifying is not None:
            self._hold(client, raw)  # its password check is in flight: the line waits
        elif client.awaiting and (client.held or not sends_only(raw)):
            if not hold(client, raw):  # its ops are out in the cluster's log: the line waits
                self.disconnect(client, "Excess Flood", kind="excess_flood")
        else:
            self._handle_line(client, raw)
        self._reap()
        if client.held:  # the next lines wait in the socket, not here (core/inflight.py)
            return max(delay, HOLD_PACE)
        return delay

    def _handle_line(self, client: Client, raw: bytes | LineTooLong) -> None:
        try:
            if isinstance(raw, ProtocolError):
                raise raw
            msg = decode_line(raw)
        except (LineTooLong, BodyTooLong, TagsTooLong):
            self.numeric(client, N.ERR_INPUTTOOLONG, "Input line was too long")
        except InvalidUtf8 as exc:
            self.fail(client, exc.command, "INVALID_UTF8", str(exc))
        except ProtocolError as exc:
            self.fail(client, exc.command, exc.code, str(exc))
        else:
            if msg is not None:
                self._dispatch(client, msg)

    def connection_lost(self, client: Client, reason: str = "Connection closed") -> None:
        if not client.gone:
            self.remove(client, reason, kind="connection_lost")
            self._reap()

    def screened(self, folded: str, item: int, outcome: Outcome) -> None:
        """The asynchronous policies' word on a screening item (from the
        shell, see core/screening.py)."""
        channel = self.channels.get(folded)
        if channel is None or channel.conference is None:
            return
        decide(self, None, channel, "screened", item, outcome_data(outcome))
        self._reap()

    def tick(self) -> None:
        """Enforce the registration timeout and keep idle clients alive."""
        now = self.clock()
        lim = self.limits
        for client in list(self.clients.values()):
            if client.gone:
                continue
            if not client.registered:
                if now - client.connected_at >= lim.registration_timeout:
                    self.disconnect(client, "Registration timed out", kind="registration_timeout")
            elif client.ping_sent is None:
                if now - client.last_active >= lim.ping_interval:
                    client.ping_sent = now
                    self.send(client, Message("PING", (self.name,)), durable=False)
            elif now - client.ping_sent >= lim.ping_timeout:
                self.disconnect(client, f"Ping timeout: {int(now - client.last_active)} seconds", kind="ping_timeout")
        for conference in self.conferences.values():
            channel = self.channels[conference.folded]
            due = conference.scheduled_state(self.wallclock())
            if due is not None:  # through the log: every node changes at the same point
                decide(self, None, channel, "schedule", due.value)
            effects = self.engine.tick(conference, schedule=False)
            # What the visitors see of votes and of the audience, coalesced.
            effects += self.engine.public_counts(conference, self.visitors_present(channel))
            if effects:
                apply(self, channel, effects)
        self.login_throttle.prune(now)
        self._reap()

    def shutdown(self, reason: str = "Server shutting down") -> None:
        """Tell every client and close every outbox; the transport flushes them."""
        line = f"ERROR :{reason}\r\n".encode()
        for client in list(self.clients.values()):
            client.gone = True
            client.outbox.close(line)
            self.stats.connections_closed["shutdown"] += 1
        self.clients.clear()
        self.nicks.clear()
        self.channels.clear()
        self.per_ip.clear()

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, client: Client, msg: Message) -> None:
        label = msg.tags.get("label") if "labeled-response" in client.caps else None
        if not label:
            self.inflight.start(client)
            try:
                self._run_command(client, msg)
            finally:
                self.inflight.finish()  # in a cluster its ops may be out: its next lines wait
            return
        # labeled-response: every reply to this command, errors included,
        # carries the label (or is batched under it).
        self._capture, self._captured = client, []
        self.inflight.start(client, label, self._captured)
        try:
            self._run_command(client, msg)
        finally:
            self._capture = None
            waiting = self.inflight.finish()  # its replies wait for its ops from the log (core/inflight.py)
            if client.verifying is not None:  # the command awaits a password check
                client.verifying.label, client.verifying.captured = label, self._captured
            elif waiting is None:
                flush_labeled(self, client, label, self._captured)

    def _run_command(self, client: Client, msg: Message) -> None:
        name = msg.command.upper()
        command = self.commands.get(name)
        if command is None:
            if client.registered:
                self.numeric(client, N.ERR_UNKNOWNCOMMAND, name, "Unknown command")
            else:
                self.numeric(client, N.ERR_NOTREGISTERED, "You have not registered")
            return
        if not client.registered and not command.before_registration:
            self.numeric(client, N.ERR_NOTREGISTERED, "You have not registered")
            return
        if len(msg.params) < command.min_params:
            self.numeric(client, N.ERR_NEEDMOREPARAMS, name, "Not enough parameters")
            return
        if command.cost > 1:
            client.bucket.charge(command.cost - 1)
        try:
            command.handler(self, client, msg)
        except Exception as exc:  # a handler bug must not take the server down
            self.log("command.crashed", level="error", command=name, error=repr(exc), exc_info=True)
            self.fail(client, name, "INTERNAL_ERROR", "Internal error, the command was not completed")

    # ------------------------------------------------------------------ password checks
    # argon2 is slow on purpose, so it never runs here: the core queues a
    # check, the shell runs it in a worker thread and calls ``verified``.

    def check_password(
        self, client: Client, command: str, stored_hash: str, password: str, then: Callable[[bool], None],
        decoy: str = "",
    ) -> None:
        """Have ``password`` checked against ``stored_hash`` (or, for a name
        nobody has, against the shell's ``decoy`` hash for that kind of name:
        "account" or "oper"); ``then(ok)`` runs with the answer. Meanwhile
        ``client``'s next lines wait."""
        request = Verification(client, command, stored_hash, password, then, decoy)
        client.verifying = request
        self.logins.request(request)

    def verified(self, request: Verification, ok: bool) -> None:
        """The answer to ``request``: finish the command that asked, then
        handle the lines the client sent meanwhile, in order (until one of
        them asks for another check)."""
        client = request.client
        if client.verifying is not request:
            return  # not waited for (any more)
        client.verifying = None
        if client.gone:
            return  # the client went away meanwhile; its held lines go with it
        if request.label is not None:
            self._capture, self._captured = client, request.captured
        self.inflight.start(client, request.label, request.captured)
        try:
            request.then(ok)
        except Exception as exc:  # as in _run_command: a bug must not take the server down
            self.log("command.crashed", level="error", command=request.command, error=repr(exc), exc_info=True)
            self.fail(client, request.command, "INTERNAL_ERROR", "Internal error, the command was not completed")
        finally:
            waiting = self.inflight.finish()  # in a cluster its ops may be out (core/inflight.py)
            if request.label is not None:
                self._capture = None
                if waiting is None:
                    flush_labeled(self, client, request.label, self._captured)
        held = request.held
        while held and not client.gone:
            if client.verifying is not None:
                client.verifying.take_over(held)
                break
            if client.awaiting:  # the rest waits for the log too
                while held:
                    hold(client, held.popleft())
                break
            self._handle_line(client, held.popleft())
        self._reap()

    def _hold(self, client: Client, raw: bytes | LineTooLong) -> None:
        assert client.verifying is not None
        if not client.verifying.hold(raw):
            self.disconnect(client, "Excess Flood", kind="excess_flood")

    # ------------------------------------------------------------------ lifecycle

    def disconnect(
        self, client: Client, reason: str, quit_reason: str | None = None, *, kind: str = "disconnected"
    ) -> None:
        """Close ``client`` with ``ERROR :Closing Link`` and tell its peers;
        ``kind`` is the reason's category for the metrics."""
        if client.gone:
            return
        error = f"ERROR :Closing Link: {client.host} ({reason})\r\n".encode()
        self.remove(client, quit_reason or reason, error, kind=kind)

    def remove(self, client: Client, quit_reason: str, error: bytes = b"", *, kind: str = "disconnected") -> None:
        """Take ``client`` out of every structure, relay its QUIT, close it."""
        if client.gone:
            return
        self.stats.connections_closed[kind] += 1
        if client.registered:
            self.relay(self.peers(client), client.prefix, "QUIT", (quit_reason,))
            self.whowas.appendleft(
                (client.folded, client.nick, client.user, client.host, client.realname, self.wallclock())
            )
            monitor_notify(self, client.nick, online=False, client=client)
        client.gone = True
        for channel in list(client.channels.values()):
            self.part_channel(client, channel, quit_reason)
        self.census.update(client)
        if client.folded:
            drop_nick(self, client, client.folded)
        for nick in client.monitoring:
            watchers = self.monitors.get(nick)
            if watchers:
                watchers.discard(client)
                if not watchers:
                    del self.monitors[nick]
        self.clients.pop(client.id, None)
        self.per_ip[client.ip] -= 1
        if self.per_ip[client.ip] <= 0:
            del self.per_ip[client.ip]
        client.outbox.close(error)
        self.log("client.quit", level="debug", cid=client.id, reason=quit_reason)

    def _reap(self) -> None:
        while self._doomed:
            client, reason = self._doomed.pop()
            if not client.gone:
                self.stats.sendq_evictions += 1
                self.remove(client, reason, kind="sendq")

    # ------------------------------------------------------------------ shared helpers

    def find_nick(self, nick: str) -> Client | None:
        client = self.nicks.get(casefold(nick))
        return client if client is not None and client.registered else None

    def find_channel(self, name: str) -> Channel | None:
        return self.channels.get(casefold(name))

    def peers(self, client: Client) -> set[Client]:
        """Every client that sees ``client``'s nick changes and quits: those
        sharing a channel with it, except that in an auditorium a visitor is
        seen by the staff only. Not ``client`` itself."""
        out: set[Client] = set()
        for channel in client.channels.values():
            out.update(self.audience(channel, client))
        out.discard(client)
        return out

    def audience(self, channel: Channel, subject: Client) -> Iterable[Client]:
        """Who sees ``subject`` join, leave or be kicked from ``channel``."""
        if channel.auditorium and subject not in channel.staff:
            return {*channel.staff, subject}
        return channel.members

    def part_channel(self, client: Client, channel: Channel, reason: str = "") -> None:
        if channel.conference is not None:
            self.engine.left(channel.conference, client.id)
            if client in channel.members:
                announce(self, client, channel, here=False, reason=reason)
        channel.members.pop(client, None)
        channel.staff.discard(client)
        client.channels.pop(channel.folded, None)
        if channel.conference is not None:
            self.census.update(client)
        if not channel.members and channel.conference is None:
            self.channels.pop(channel.folded, None)

    # ------------------------------------------------------------------ accounts and conferences

    def is_admin(self, client: Client) -> bool:
        if client.oper:
            return True
        account = self.accounts.get(casefold(client.account)) if client.account else None
        return account is not None and account.admin

    def role(self, client: Client, channel: Channel) -> Role:
        if channel.conference is None:
            return Role.VISITOR
        return channel.conference.role_of(client.account, self.is_admin(client))

    def sees_addresses(self, viewer: Client) -> bool:
        """Whether ``viewer`` is shown real addresses (WHOIS 338): operators
        and admins. Everyone else sees cloaks; moderators see how many share
        one (CONF AUDIENCE)."""
        return viewer.oper is not None or self.is_admin(viewer)

    def retention_cutoff(self) -> float | None:
        """Wall-clock time before which personal data goes, or None."""
        days = self.config.storage.retention_days
        return self.wallclock() - days * 86400 if days else None

    def purge_personal_data(self) -> int:
        """Retention: forget IP addresses and dropped messages' text older than
        ``storage.retention_days`` in the live conferences (storage purges its
        own rows likewise). Returns the number of items changed."""
        cutoff = self.retention_cutoff()
        if cutoff is None:
            return 0
        changed = 0
        for conference in self.conferences.values():
            changed += conference.purge_personal_data(cutoff)
        return changed

    def add_conference(self, conference: Conference) -> Channel:
        """Attach ``conference`` to its channel, creating the channel; a
        conference channel lives on when empty."""
        channel = self.channels.get(conference.folded)
        if channel is None:
            channel = Channel(conference.channel, conference.folded, int(self.wallclock()))
            channel.modes.update("nt")
            self.channels[conference.folded] = channel
        channel.conference = conference
        conference.journal = self.journal
        for member in channel.members:
            self.census.update(member)  # now in a conference: no longer public
        channel.topic = conference.title
        channel.topic_by = self.name
        channel.topic_at = int(self.wallclock())
        self.conferences[conference.folded] = conference
        return channel

    def user_counts(self) -> tuple[int, int, int, int]:
        """(registered, invisible, unregistered, operators) for LUSERS,
        exact at every moment (core/census.py)."""
        census = self.census
        users = len(census.users)
        return users, len(census.invisible), len(self.clients) - users, len(census.opers)

    def version_string(self) -> str:
        return f"confchat-{__version__}"
