"""``confchat serve --workers N`` without servers: the refusals, the option,
where each worker keeps its database, the configuration handed to a worker,
shared ports, and the supervisor driving stand-in workers.

The real thing (two workers on one port, a killed one restarted, SIGTERM)
is tests/e2e/test_e2e_workers.py."""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import textwrap
from pathlib import Path

import attrs
import pytest
import trio

from confchat import demo, workers
from confchat.app import database_path
from confchat.cli import main
from confchat.config import ClusterSection, Config, ConfigError, ListenSection, ServerSection, StorageSection

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
def not_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(workers.WORKER_ENV, raising=False)


def clustered(workers_: int = 2, redis_url: str = REDIS, **listen: object) -> Config:
    return Config(
        listen=ListenSection(**{"tcp": ("127.0.0.1:6667",), "http": "127.0.0.1:8080", **listen}),
        cluster=ClusterSection(redis_url=redis_url, workers=workers_),
    )


# -- refusals and the option ------------------------------------------------------


def test_workers_without_redis_are_refused_with_how_to_configure_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "2", "--no-demo", "--tcp", "127.0.0.1:6667"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("confchat: config error: 2 workers")
    assert "share their conferences through Redis" in err
    assert "[cluster]" in err and 'redis_url = "redis://' in err
    assert "Traceback" not in err


def test_workers_from_the_config_file_are_checked_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[cluster]\nworkers = 3\n")
    assert main(["serve", "--config", str(path), "--no-demo"]) == 2
    assert "3 workers" in capsys.readouterr().err


@pytest.mark.parametrize("given", ["0", "65", "two"])
def test_a_bad_number_of_workers_is_a_usage_error(given: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", given]) == 2
    assert "argument --workers" in capsys.readouterr().err


@pytest.mark.parametrize(
    "listen, key",
    [
        ({"tcp": ("127.0.0.1:0",)}, "listen.tcp"),
        ({"http": "127.0.0.1:0"}, "listen.http"),
        ({"proxy_protocol": ("127.0.0.1:0",)}, "listen.proxy_protocol"),
        ({"tls": ("[::1]:0",)}, "listen.tls"),
        ({"https": "127.0.0.1:0"}, "listen.https"),
    ],
)
def test_port_0_is_refused_with_workers(listen: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=rf'^{key} = ".*:0": port 0 would give each of the 2 workers a port of its own'):
        workers.check(clustered(**listen))
    workers.check(attrs.evolve(clustered(**listen), cluster=ClusterSection()))  # one process: fine


def test_port_0_through_the_command_line_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[cluster]\nredis_url = "{REDIS}"\n')
    assert main(["serve", "--config", str(path), "--workers", "2", "--no-demo", "--tcp", "127.0.0.1:0"]) == 2
    assert 'listen.tcp = "127.0.0.1:0": port 0' in capsys.readouterr().err


def test_one_worker_needs_no_redis() -> None:
    workers.check(workers.with_workers(Config(), 1))
    workers.check(clustered(1, redis_url=""))
    with pytest.raises(ConfigError):
        workers.check(clustered(2, redis_url=""))


def test_the_option_replaces_the_configured_number() -> None:
    assert workers.with_workers(clustered(4), 2).cluster.workers == 2
    assert workers.with_workers(clustered(4), None).cluster.workers == 4


# -- each worker's storage ----------------------------------------------------------


def test_each_worker_has_a_database_of_its_own_in_the_data_dir() -> None:
    config = Config(server=ServerSection(data_dir="/srv/confchat"))
    assert workers.worker_data_dir(config, 1) == "/srv/confchat/worker-1"
    assert workers.worker_data_dir(config, 12) == "/srv/confchat/worker-12"
    mine = workers.worker_config(config, 2)
    # app.database_path, as serve() opens it, lands in the worker's folder…
    assert database_path(mine) == os.path.join("/srv/confchat/worker-2", config.storage.path)
    assert database_path(mine) == workers.worker_database_path(config, 2)
    # …while the data dir itself (cloak.key, demo.toml, transcripts/) stays shared.
    assert mine.server.data_dir == "/srv/confchat"


def test_an_absolute_database_path_gets_a_worker_folder_beside_it() -> None:
    config = Config(server=ServerSection(data_dir="data"), storage=StorageSection(path="/var/lib/cc/chat.db"))
    assert workers.worker_database_path(config, 3) == "/var/lib/cc/worker-3/chat.db"
    assert database_path(workers.worker_config(config, 3)) == "/var/lib/cc/worker-3/chat.db"


def test_a_named_node_gets_the_worker_number_and_an_unnamed_one_stays_unnamed() -> None:
    named = attrs.evolve(clustered(), cluster=ClusterSection(redis_url=REDIS, node="web1", workers=2))
    assert workers.worker_config(named, 2).cluster.node == "web1-2"
    assert workers.worker_config(clustered(), 2).cluster.node == ""  # host name and pid, each its own
    assert workers.worker_config(clustered(), 2).cluster.workers == 2


def test_a_worker_gets_the_whole_resolved_configuration(tmp_path: Path) -> None:
    # The demo's accounts and conference included: the workers never read
    # demo.toml, the supervisor does.
    base = Config(server=ServerSection(data_dir=str(tmp_path)), cluster=ClusterSection(redis_url=REDIS, workers=2))
    config, shown = demo.prepare(base, hasher=lambda password: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g")
    assert shown is not None and config.accounts and config.conferences
    assert workers.decode_config(workers.encode_config(config)) == config


def test_worker_main_refuses_a_stray_environment(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    code = workers.worker_main({workers.WORKER_ENV: "1"}, io.BytesIO(b""))
    assert code == 2
    assert "no worker of confchat serve --workers N" in capsys.readouterr().err


def test_the_banner_hides_the_redis_password() -> None:
    assert workers.redacted_url("redis://:s3cret@db:6379/0") == "redis://:***@db:6379/0"
    assert workers.redacted_url("rediss://app:s3cret@db/1") == "rediss://app:***@db/1"
    assert workers.redacted_url(REDIS) == REDIS


# -- shared ports ---------------------------------------------------------------------


def test_workers_bind_one_port_together_and_others_cannot() -> None:
    async def scenario() -> None:
        workers.share_ports(False)
        alone = await workers.open_tcp_listeners(0, host="127.0.0.1")
        port = alone[0].socket.getsockname()[1]
        with pytest.raises(OSError) as refused:
            await workers.open_tcp_listeners(port, host="127.0.0.1")
        assert refused.value.errno == errno.EADDRINUSE
        for listener in alone:
            await listener.aclose()
        workers.share_ports(True)
        try:
            first = await workers.open_tcp_listeners(port, host="127.0.0.1")
            second = await workers.open_tcp_listeners(port, host="127.0.0.1")
            assert first[0].socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert [listener.socket.getsockname()[1] for listener in first + second] == [port, port]
            for listener in first + second:
                await listener.aclose()
        finally:
            workers.share_ports(False)

    trio.run(scenario)


# -- the supervisor, with stand-in workers --------------------------------------------

STAND_IN = textwrap.dedent(
    """
    import os, signal, sys, time
    folder = sys.argv[1]
    index = os.environ["CONFCHAT_WORKER"]
    assert os.environ["CONFCHAT_WORKERS"] == "2"
    config = sys.stdin.buffer.read()
    runs = os.path.join(folder, "runs-" + index)
    with open(runs, "a") as f:
        f.write(str(os.getpid()) + "\\n")
    first = open(runs).read().count("\\n") == 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fd = int(os.environ["CONFCHAT_READY_FD"])
    os.write(fd, b"ready\\n")
    os.close(fd)
    open(os.path.join(folder, "ready-" + index), "a").close()
    if index == "1" and first:
        # dies unexpectedly once the other one is ready too
        while not os.path.exists(os.path.join(folder, "ready-2")):
            time.sleep(0.01)
        time.sleep(0.1)
        os._exit(3)
    if index == "1":
        # the restarted one: tell the supervisor to stop
        os.kill(os.getppid(), signal.SIGTERM)
    while True:
        time.sleep(1)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="signals and fork")
def test_the_supervisor_restarts_a_dead_worker_and_stops_on_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(STAND_IN)
    announced = []
    supervisor = workers.Supervisor(2, b"{}", command=[sys.executable, str(script), str(tmp_path)], stop_timeout=10)
    assert supervisor.run(lambda: announced.append(True)) == 0
    assert announced == [True]  # the banner once, not again after the restart
    assert len((tmp_path / "runs-1").read_text().split()) == 2
    assert len((tmp_path / "runs-2").read_text().split()) == 1
    assert supervisor.pids() == {}
    assert signal.getsignal(signal.SIGTERM) is not supervisor._on_signal  # handlers restored


def test_a_worker_that_fails_at_the_start_fails_the_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    announced = []
    supervisor = workers.Supervisor(2, b"{}", command=[sys.executable, "-c", "raise SystemExit(3)"])
    assert supervisor.run(lambda: announced.append(True)) == 1
    assert announced == []
    assert "confchat: cannot start: worker" in capsys.readouterr().err
