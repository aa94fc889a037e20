"""A real terminal client: irssi, running in a detached tmux session, talks
to the server alongside a test client. Keys go in with ``tmux send-keys``;
what irssi shows comes back with ``tmux capture-pane``."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest


# An event server closes the side routes to visitors (private messages,
# new channels): these tests are about IRC itself, on a plain IRC server's
# settings.
PLAIN_IRC = {"server": {"visitor_private_messages": True, "visitor_channels": True}}


@pytest.fixture
def server(start_server):
    """A plain IRC server (side routes open) on otherwise default settings."""
    return start_server(PLAIN_IRC)

IRSSI_NICK = "ircat"

IRSSI_CONFIG = f"""\
settings = {{
  core = {{
    real_name = "irssi under test";
    user_name = "ircat";
    nick = "{IRSSI_NICK}";
    settings_autosave = "no";
  }};
  "irc/core" = {{
    # irssi's own flood protection queues lines 2.2 s apart after a burst
    # of five; off, so the test runs at the server's pace.
    cmd_queue_speed = "0msec";
    cmds_max_at_once = "0";
  }};
  "fe-common/core" = {{
    autolog = "no";
  }};
}};
"""


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, describe: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time\n" + describe())
        time.sleep(0.05)


class Tmux:
    """One tmux server on a private socket, so nothing else is touched."""

    def __init__(self) -> None:
        self.socket = f"confchat-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.env = dict(os.environ, TERM=os.environ.get("TERM") or "xterm-256color")

    def run(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], env=self.env, capture_output=True, text=True, timeout=10
        )
        assert result.returncode == 0, f"tmux {args} failed: {result.stderr}"
        return result.stdout

    def pane(self) -> str:
        return self.run("capture-pane", "-p", "-J", "-t", "irssi")

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "irssi", "-l", text)
        self.run("send-keys", "-t", "irssi", "Enter")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True, timeout=10)
        # tmux leaves the socket file behind; it is ours, remove it.
        tmpdir = os.environ.get("TMUX_TMPDIR") or "/tmp"
        Path(tmpdir, f"tmux-{os.getuid()}", self.socket).unlink(missing_ok=True)


@pytest.fixture
def tmux():
    missing = [tool for tool in ("irssi", "tmux") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not installed"
        if os.environ.get("CI"):
            pytest.fail(message + " (required when CI is set)")
        pytest.skip(message)
    session = Tmux()
    try:
        yield session
    finally:
        session.kill()


def test_irssi_joins_and_chats_with_a_test_client(tmux, server, tmp_path: Path):
    home = tmp_path / "irssi-home"
    home.mkdir()
    (home / "config").write_text(IRSSI_CONFIG)

    watcher = server.client("watcher")
    watcher.send("JOIN #town")
    watcher.expect("366")
    watcher.send(f"MONITOR + {IRSSI_NICK}")
    watcher.expect("731")  # offline, for now

    tmux.run(
        "new-session", "-d", "-s", "irssi", "-x", "200", "-y", "50",
        f"irssi --home={home} -n {IRSSI_NICK} -c {server.host} -p {server.port}",
    )
    # irssi has registered once MONITOR says its nick is online.
    online = watcher.expect("730", timeout=15)
    assert online.params[-1].startswith(f"{IRSSI_NICK}!")

    tmux.type("/join #town")
    join = watcher.expect(lambda m: m.command == "JOIN" and m.source.startswith(f"{IRSSI_NICK}!"))
    assert join.params[0] == "#town"
    # irssi shows the channel's names (the watcher is the op).
    wait_until(lambda: "@watcher" in tmux.pane(), describe=tmux.pane)

    tmux.type("hello from irssi")
    msg = watcher.expect("PRIVMSG")
    assert msg.source.startswith(f"{IRSSI_NICK}!")
    assert msg.params == ("#town", "hello from irssi")

    tmux.type("/me waves")
    action = watcher.expect("PRIVMSG")
    assert action.params == ("#town", "\x01ACTION waves\x01")

    watcher.send("PRIVMSG #town :hello irssi, this is the watcher")
    wait_until(lambda: "hello irssi, this is the watcher" in tmux.pane(), describe=tmux.pane)
    assert "watcher" in next(line for line in tmux.pane().splitlines() if "this is the watcher" in line)

    # Private messages, in a query window (which /query makes the active one).
    tmux.type("/query watcher")
    wait_until(lambda: "[watcher]" in tmux.pane(), describe=tmux.pane)
    watcher.send(f"PRIVMSG {IRSSI_NICK} :psst, privately")
    wait_until(lambda: "psst, privately" in tmux.pane(), describe=tmux.pane)
    tmux.type("whispering back")
    private = watcher.expect("PRIVMSG")
    assert private.source.startswith(f"{IRSSI_NICK}!") and private.params == ("watcher", "whispering back")

    tmux.type("/quit see you")
    quit = watcher.expect("QUIT")
    assert quit.source.startswith(f"{IRSSI_NICK}!") and quit.params == ("Quit: see you",)


def test_irssi_on_one_node_of_a_cluster_takes_part_in_an_event_moderated_on_another(tmux, start_server, tmp_path):
    """irssi as a visitor on node 1; the moderator, a test client, on node
    2 (a real redis-server between them): the moderator sees irssi arrive,
    its question reaches the queue, the approval reaches irssi, and a
    private word goes both ways."""
    from confchat.core.passwords import hash_password
    from redis_server import RedisServer

    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        settings = {
            "cluster": {"redis_url": redis.url},
            "accounts": [{"name": "moda", "password_hash": hash_password("moda-secret")}],
            "conferences": [{"channel": "#townhall", "title": "Ask the mayor", "moderators": ["moda"],
                             "state": "live", "mode": "moderated"}],
        }
        n1, n2 = start_server(settings), start_server(settings)
        moda = n2.client("moda", caps=("message-tags", "echo-message", "standard-replies"), sasl=("moda", "moda-secret"))
        moda.send("JOIN #townhall")
        moda.expect("366")
        home = tmp_path / "irssi-home"
        home.mkdir()
        (home / "config").write_text(IRSSI_CONFIG)
        tmux.run(
            "new-session", "-d", "-s", "irssi", "-x", "200", "-y", "50",
            f"irssi --home={home} -n {IRSSI_NICK} -c {n1.host} -p {n1.port}",
        )
        wait_until(lambda: "Welcome to the" in tmux.pane(), timeout=15, describe=tmux.pane)
        tmux.type("/join #townhall")
        joined = moda.expect(lambda m: m.command == "JOIN" and m.source.startswith(f"{IRSSI_NICK}!"), timeout=15)
        assert joined.params[0] == "#townhall"  # seen on node 2, though irssi is on node 1
        wait_until(lambda: "@moda" in tmux.pane(), describe=tmux.pane)  # and irssi lists the moderator
        tmux.type("When will the tram come?")
        item = moda.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM"
                           and m.params[-1] == "When will the tram come?")
        moda.send(f"QUEUE #townhall APPROVE {item.params[2]}")
        # irssi shows its own line as it sends it, then the publication.
        wait_until(lambda: tmux.pane().count("When will the tram come?") == 2, describe=tmux.pane)
        tmux.type("/query moda")  # the query window, where the moderator's private word shows
        wait_until(lambda: "[moda]" in tmux.pane(), describe=tmux.pane)
        moda.send(f"PRIVMSG {IRSSI_NICK} :Thanks, could you say which line?")
        wait_until(lambda: "could you say which line" in tmux.pane(), describe=tmux.pane)
        tmux.type("The north line")  # a visitor may answer the moderator who wrote first
        private = moda.expect(lambda m: m.command == "PRIVMSG" and m.params[0] == "moda")
        assert private.source.startswith(f"{IRSSI_NICK}!") and private.params[1] == "The north line"
        tmux.type("/quit bye")
        left = moda.expect(lambda m: m.command == "PART" and m.source.startswith(f"{IRSSI_NICK}!"))
        assert left.params == ("#townhall", "Quit: bye")
    finally:
        redis.stop()
