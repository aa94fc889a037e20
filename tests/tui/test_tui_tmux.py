"""confchat-tui in a real terminal: tmux runs the installed command at
80x24, keys go in with ``send-keys``, the screen comes back with
``capture-pane``; the server is the real one and a TCP viewer checks what
the key published."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from accounts import CHANNEL, CONFIG, PASSWORDS, VIEWER_CAPS, ask, visitor

COMMAND = Path(sys.executable).with_name("confchat-tui")


class Tmux:
    """One tmux server on a private socket."""

    def __init__(self) -> None:
        self.socket = f"confchat-tui-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.env = dict(os.environ, TERM="xterm-256color")

    def run(self, *args: str) -> str:
        result = subprocess.run(["tmux", "-L", self.socket, *args], env=self.env, capture_output=True, text=True,
                                timeout=10)
        assert result.returncode == 0, f"tmux {args}: {result.stderr}"
        return result.stdout

    def pane(self) -> str:
        return self.run("capture-pane", "-p", "-t", "tui")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "tui", *keys)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True, timeout=10)
        Path(os.environ.get("TMUX_TMPDIR") or "/tmp", f"tmux-{os.getuid()}", self.socket).unlink(missing_ok=True)


@pytest.fixture
def tmux():
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is missing (scripts/install-test-deps installs it)")
        pytest.skip("tmux not installed")
    session = Tmux()
    yield session
    session.kill()


def wait_for(tmux: Tmux, predicate, what: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = tmux.pane()
        if predicate(screen):
            return screen
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not shown in time; the screen:\n{screen}")
        time.sleep(0.1)


def test_approve_from_a_real_terminal(start_server, tmux):
    town = start_server(CONFIG)
    carol = visitor(town, "carol")
    viewer = visitor(town, "dave", caps=VIEWER_CAPS)
    first = ask(carol, "When does the tram reach the north")
    ask(carol, "Second question about buses")
    command = f"{COMMAND} --server {town.host}:{town.port} --account moda --channel {CHANNEL[1:]}"
    env = ["-e", f"CONFCHAT_PASSWORD={PASSWORDS['moda']}"]
    tmux.run("new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", *env, command)
    screen = wait_for(tmux, lambda s: "When does the tram" in s and "Second question" in s, "the queue")
    assert "queue 2" in screen and "moderator" in screen
    assert max(len(line) for line in screen.splitlines()) <= 80
    tmux.keys("a")  # the cursor is on the first row
    screen = wait_for(tmux, lambda s: "When does the tram" not in s.split("Log")[1].split("audience")[0]
                      and "queue 1" in s, "the approval")
    published = viewer.expect(lambda m: m.command == "PRIVMSG" and m.params[0] == CHANNEL)
    assert published.params[1] == "When does the tram reach the north"
    assert published.tags["confchat/item"] == str(first)
    tmux.keys("?")
    screen = wait_for(tmux, lambda s: "Everywhere" in s, "the help screen")
    tmux.keys("Escape")
    wait_for(tmux, lambda s: "Everywhere" not in s and "Second question" in s, "back to the queue")
    tmux.keys("C-q")  # quits: the viewer sees moda leave
    quit_line = viewer.expect(lambda m: m.command == "QUIT" and (m.source or "").startswith("moda!"))
    assert quit_line.params[-1].endswith("confchat-tui closed")
    deadline = time.monotonic() + 10
    while _alive(tmux):
        assert time.monotonic() < deadline, "confchat-tui did not exit"
        time.sleep(0.1)


def _alive(tmux: Tmux) -> bool:
    result = subprocess.run(["tmux", "-L", tmux.socket, "has-session", "-t", "tui"], env=tmux.env,
                            capture_output=True, timeout=10)
    return result.returncode == 0
