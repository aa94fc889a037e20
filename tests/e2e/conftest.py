"""End-to-end fixtures: the real ``confchat serve`` in a subprocess on a free
loopback port, and clients over real TCP sockets."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import tomli_w

from e2e_client import IRCClient

ANNOUNCE = re.compile(r"irc://(?:\[(?P<host6>[^\]]+)\]|(?P<host>[^:/\s]+)):(?P<port>\d+)")
WS_ANNOUNCE = re.compile(r"ws://[^\s]*:(?P<port>\d+)/ws")
START_TIMEOUT = 15.0


class ServerProcess:
    """A running ``confchat serve``; its stdout and stderr are collected."""

    def __init__(self, args: list[str], workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.output: list[str] = []
        self.host = ""
        self.port = 0
        self.http_port = 0  # 0: HTTP disabled
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "confchat", *args],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self._announced = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._announced.wait(START_TIMEOUT):
            self.kill()
            raise RuntimeError("server did not announce its port:\n" + self.log)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            if self._announced.is_set():
                continue
            ws = WS_ANNOUNCE.search(line)
            if ws:
                self.http_port = int(ws["port"])
            match = ANNOUNCE.search(line)
            if match and not self.port:
                self.host = match["host6"] or match["host"]
                self.port = int(match["port"])
            if "Stop with Ctrl-C" in line and self.port:
                self._announced.set()

    @property
    def log(self) -> str:
        return "".join(self.output)

    def client(self, nick: str | None = None, **kwargs) -> IRCClient:
        """A connected client; registered as ``nick`` when one is given."""
        client = IRCClient(self.host, self.port)
        if nick is not None:
            client.register(nick, **kwargs)
        return client

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 15.0) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.wait()
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode


def without_slow_mode(config: dict) -> dict:
    """The config with ``slow_mode = 0`` for each conference that does not
    set it: the tests have visitors write at test speed, while the product's
    default (10 s) is checked on its own (test_e2e_slow_mode.py)."""
    conferences = [{"slow_mode": 0, **conference} for conference in config.get("conferences", ())]
    return {**config, "conferences": conferences} if conferences else config


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with ``start_server(config_dict_or_None, *extra_args)``;
    each one gets its own data directory and is stopped at the end. The
    first-run demo is off unless ``demo=True``."""
    started: list[ServerProcess] = []

    def start(config: dict | None = None, *extra: str, demo: bool = False) -> ServerProcess:
        workdir = tmp_path / f"server{len(started)}"
        workdir.mkdir()
        args = ["serve", "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data-dir", str(workdir / "data")]
        if not demo:  # the first-run demo only where a test asks for it
            args.append("--no-demo")
        if config is not None:
            config = without_slow_mode(config)
            path = workdir / "config.toml"
            path.write_text(tomli_w.dumps(config))
            args += ["--config", str(path)]
        server = ServerProcess([*args, *extra], workdir)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class AcrossNodes:
    """Two nodes of a cluster as one server to a test: the web pages
    (``http_port``) and the terminal client (``host``, ``port``) on the
    first, every IRC client the test makes (``client()``) on the second. So a page's
    scenario runs also with the visitors, the other staff and the guest on
    another node than the page's."""

    def __init__(self, pages: ServerProcess, clients: ServerProcess) -> None:
        self.pages, self.clients = pages, clients
        # The pages' node: its web pages, and its IRC port for the terminal client.
        self.http_port, self.host, self.port = pages.http_port, pages.host, pages.port

    def client(self, *args, **kwargs):
        return self.clients.client(*args, **kwargs)


@pytest.fixture(params=["one process", "two nodes"])
def start_event(request, start_server) -> Callable[[dict], ServerProcess | AcrossNodes]:
    """``start_event(config)``: the event on one process, and (the second
    run of the test) on two nodes sharing a real redis-server."""

    def start(config: dict) -> ServerProcess | AcrossNodes:
        if request.param == "one process":
            return start_server(config)
        redis = request.getfixturevalue("redis_server")
        settings = {**config, "cluster": {"redis_url": redis.url}}
        return AcrossNodes(start_server(settings), start_server(settings))

    return start


@pytest.fixture
def server(start_server) -> ServerProcess:
    """A server on the embedded defaults."""
    return start_server()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


# ---------------------------------------------------------------- browsers

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, driven by Playwright (no browser download),
    one per test module: Playwright's sync API keeps an asyncio loop running
    while it is started, and the terminal client's tests (Textual, asyncio)
    need none running when their turn comes.
    Missing chromium: skipped, unless CI is set (then the run fails)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing (scripts/install-test-deps installs it)")
        pytest.skip("chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """``new_page(locale="en-GB")`` opens a page in a fresh browser context
    (its own cookies and storage: one person); all are closed at the end.
    Console errors and page crashes are collected in ``page.errors``."""
    contexts = []

    def make(locale: str = "en-GB", viewport: dict | None = None):
        context = browser.new_context(locale=locale, viewport=viewport or {"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()
