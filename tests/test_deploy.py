"""The files in deploy/: Prometheus config, alert rules, Grafana dashboard,
and the configs of a cluster's pieces (HAProxy, nginx, Redis, systemd).

promtool (Debian package prometheus, scripts/install-test-deps) checks the
config and the rules, checks the dashboard's queries as PromQL, and runs each
alert against synthetic series. The metric and label names every query uses
are checked against scrapes of real servers (subprocesses, driven through a
moderated question, a mute and a refused connection first, so that every
metric family has samples and so label names): a single process, which every
panel outside the Cluster row must do with, and a node of a cluster on a real
redis-server, which has the cluster's metrics too.

The proxies' and services' files are checked by the programs that read them,
their placeholders filled in: ``haproxy -c``, ``nginx -t``, ``systemd-analyze
verify`` (with the drop-ins), and Debian's redis-server started on top of its
own redis.conf with deploy/redis/confchat.conf included, then asked what it
took and what it lets confchat's user do; the Redis backup script is run
against it and a new Redis started on the backup. (tests/e2e/test_e2e_proxies.py
and tests/e2e/test_e2e_cluster_proxy.py run the proxies for real.)
"""

from __future__ import annotations

import copy
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import attrs
import pytest
import tomli_w
import yaml
from prometheus_client.parser import text_string_to_metric_families

from programs import binary as program  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "alerts.yml"
PROMETHEUS = DEPLOY / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "confchat-dashboard.json"
README = DEPLOY / "README.md"
DOCS = ROOT / "docs" / "deploy.md"

# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}


# ---------------------------------------------------------------- promtool


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool not installed (Debian: apt-get install prometheus; see scripts/install-test-deps)"
        if os.environ.get("CI"):
            pytest.fail(message + " (required when CI is set)")
        pytest.skip(message)
    return path


def run_promtool(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_promtool_checks_the_alert_rules(promtool):
    result = run_promtool(promtool, "check", "rules", "alerts.yml", cwd=DEPLOY)
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_checks_the_prometheus_config_and_its_rule_file(promtool, tmp_path):
    config = yaml.safe_load(PROMETHEUS.read_text())
    [job] = config["scrape_configs"]
    assert job["job_name"] == "confchat"
    assert job["scrape_interval"] == "15s"
    assert job["static_configs"] == [{"targets": ["localhost:8080"]}]
    assert config["rule_files"] == ["alerts.yml"]
    # Run from elsewhere: rule_files must resolve relative to the config file.
    result = run_promtool(promtool, "check", "config", str(PROMETHEUS), cwd=tmp_path)
    assert "SUCCESS: 1 rule files found" in result.stdout
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_the_cluster_example_in_prometheus_yml_is_a_valid_config(promtool, tmp_path):
    """The commented example of several nodes, uncommented in place of the
    single target, is a config promtool takes: one job, one target per node."""
    lines = PROMETHEUS.read_text().splitlines()
    begin, end = lines.index("# cluster-example:begin"), lines.index("# cluster-example:end")
    block = "\n".join(line.removeprefix("#") for line in lines[begin + 1:end])
    static_configs = yaml.safe_load(block)
    assert static_configs == [{"targets": ["web1.internal:8080", "web2.internal:8080", "web3.internal:8080"]}]
    config = yaml.safe_load(PROMETHEUS.read_text())
    [job] = config["scrape_configs"]
    job["static_configs"] = static_configs
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    run_promtool(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)


def test_prometheus_yml_says_how_to_scrape_each_worker():
    """serve --workers N shares one HTTP port among N processes; each
    worker's own metrics port is cluster.worker_metrics: the shipped files
    must name the key the server really has."""
    from confchat.config.sections import ClusterSection

    assert "worker_metrics" in attrs.fields_dict(ClusterSection)
    text = PROMETHEUS.read_text()
    assert "--workers N" in text and "whichever worker" in text and "worker_metrics" in text
    assert "worker_metrics" in (ROOT / "docs" / "deploy.md").read_text()


# ---------------------------------------------------------------- a real scrape


def _send(sock: socket.socket, line: str) -> None:
    sock.sendall(line.encode() + b"\r\n")


class Irc:
    """Just enough of an IRC client to drive the server."""

    def __init__(self, port: int, nick: str, password: str | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.seen: list[str] = []
        self.send("CAP REQ :standard-replies")  # FAIL/NOTE rather than NOTICEs
        if password:
            self.send(f"PASS {password}")
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :{nick}")
        self.send("CAP END")
        self.expect(" 001 ")

    def send(self, line: str) -> None:
        _send(self.sock, line)

    def expect(self, needle: str) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            while b"\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\n", 1)
                line = raw.decode(errors="replace").rstrip("\r")
                self.seen.append(line)
                if line.startswith("PING "):
                    self.send("PONG " + line[5:])
                if needle in line:
                    return line
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            self.buffer += data
        raise AssertionError(f"no {needle!r} from the server; got:\n" + "\n".join(self.seen[-20:]))


def _drive(irc_port: int) -> None:
    """Make every metric family have samples: a moderator and a visitor in
    a live conference, a question held then published, a mute, a refused
    connection and a quit."""
    mod = Irc(irc_port, "mod", "mod:secret")
    mod.send("JOIN #q")
    mod.expect(" 366 ")
    visitor = Irc(irc_port, "visitor")
    visitor.send("JOIN #q")
    visitor.expect(" 366 ")
    # Third connection from 127.0.0.1 with max_connections_per_ip = 2.
    with socket.create_connection(("127.0.0.1", irc_port), timeout=10) as refused:
        received = b""
        while chunk := refused.recv(4096):
            received += chunk
        assert b"Too many connections" in received
    visitor.send("PRIVMSG #q :When does the tram come?")
    visitor.expect("NOTE PRIVMSG HELD #q")
    mod.send("QUEUE #q NEXT")
    mod.expect(" published ")
    visitor.send("PRIVMSG #q :see www.example.com")  # held by links, and the broken plugin fails
    visitor.expect("NOTE PRIVMSG HELD #q")
    mod.send("CONF #q SHIELD ON :drill")
    mod.expect("NOTE CONF SHIELD #q")
    mod.send("CONF #q MUTE visitor")
    mod.expect("NOTE CONF MUTE #q")
    visitor.send("QUIT :bye")
    visitor.expect("ERROR")
    visitor.sock.close()
    mod.sock.close()


def _scrape(workdir: Path, extra: dict) -> str:
    """/metrics of a real server on ``extra`` (merged into the config),
    after the drive."""
    from confchat.core.passwords import hash_password

    config = {
        "limits": {"max_connections_per_ip": 2},
        "accounts": [{"name": "mod", "password_hash": hash_password("secret")}],
        "conferences": [{"channel": "#q", "title": "Q", "state": "live", "moderators": ["mod"], "slow_mode": 0,
                         # a built-in that decides, and the example plugin that fails
                         "policies": [{"policy": "links"}, {"policy": "example-broken"}]}],
        **extra,
    }
    (workdir / "config.toml").write_text(tomli_w.dumps(config))
    stderr = (workdir / "stderr").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "confchat", "serve", "--config", str(workdir / "config.toml"),
         "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data-dir", str(workdir / "data")],
        stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=workdir,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        irc_port = http_port = None
        deadline = time.monotonic() + 15
        while irc_port is None or http_port is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("the server did not announce its ports in 15 s") from None
            assert line is not None, "server exited: " + (workdir / "stderr").read_text()
            if m := re.search(r"irc://[^\s]*:(\d+)", line):
                irc_port = int(m.group(1))
            if m := re.search(r"ws://[^\s]*:(\d+)/ws", line):
                http_port = int(m.group(1))
        _drive(irc_port)
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=10) as response:
            return response.read().decode()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stderr.close()


def _names(text: str) -> dict[str, set[str]]:
    """Every metric name of a scrape (histograms as _bucket/_sum/_count,
    counters with _total), with the label names of its samples."""
    names: dict[str, set[str]] = {}
    empty = []
    for family in text_string_to_metric_families(text):
        if not family.samples:
            empty.append(family.name)
        if family.type == "histogram":
            expected = [f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"]
        elif family.type == "counter":
            expected = [f"{family.name}_total"]
        else:
            expected = [family.name]
        for name in expected:
            names.setdefault(name, set())
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    # Label names are only known from samples: the drive above must reach them all.
    assert not empty, f"families without samples after the drive: {empty}"
    return names


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, set[str]]:
    """What a single process exports (no [cluster])."""
    return _names(_scrape(tmp_path_factory.mktemp("server"), {}))


@pytest.fixture(scope="module")
def exported_cluster(tmp_path_factory) -> dict[str, set[str]]:
    """What a node of a cluster exports: a real redis-server, one node."""
    from redis_server import RedisServer

    redis = RedisServer(tmp_path_factory.mktemp("redis")).start()
    try:
        text = _scrape(tmp_path_factory.mktemp("node"), {"cluster": {"redis_url": redis.url, "node": "web1"}})
    finally:
        redis.stop()
    return _names(text)


def test_the_scrape_has_every_family_the_deploy_files_are_about(exported):
    families = {
        "confchat_build_info", "confchat_connections", "confchat_connections_accepted_total",
        "confchat_connections_refused_total", "confchat_connections_closed_total",
        "confchat_sendq_evictions_total", "confchat_flood_throttles_total", "confchat_received_bytes_total",
        "confchat_sent_bytes_total", "confchat_deliveries_total", "confchat_fanout_seconds_bucket",
        "confchat_messages_total", "confchat_moderation_wait_seconds_bucket", "confchat_restrictions_total",
        "confchat_queue_items", "confchat_queue_oldest_age_seconds", "confchat_audience",
        "confchat_conference_state", "confchat_storage_commits_total", "confchat_storage_rows_total",
        "confchat_storage_errors_total", "confchat_storage_failing", "confchat_storage_commit_seconds_bucket",
        "confchat_storage_pending", "confchat_policy_decisions_total", "confchat_policy_failures_total",
        "confchat_policy_seconds_bucket", "confchat_shield_raised_total", "confchat_shield",
        "confchat_login_failures_total",
        "confchat_process_resident_memory_bytes",
        "confchat_process_cpu_seconds_total", "confchat_process_open_fds", "confchat_process_max_fds",
    }
    assert families <= exported.keys()
    assert exported["confchat_messages_total"] == {"conference", "outcome", "decider"}
    assert exported["confchat_moderation_wait_seconds_bucket"] == {"conference", "le"}


CLUSTER_FAMILIES = {
    "confchat_node_info", "confchat_cluster_link_up", "confchat_cluster_nodes", "confchat_cluster_ops_total",
    "confchat_cluster_entries_total", "confchat_cluster_outages_total", "confchat_cluster_lag_seconds",
    "confchat_cluster_audience",
}


def test_a_node_of_a_cluster_has_the_cluster_families_and_a_single_process_none(exported, exported_cluster):
    assert CLUSTER_FAMILIES <= exported_cluster.keys()
    assert exported_cluster["confchat_node_info"] == {"node", "number"}
    assert exported_cluster["confchat_cluster_ops_total"] == {"result"}
    assert exported_cluster["confchat_cluster_entries_total"] == {"origin"}
    assert exported_cluster["confchat_cluster_audience"] == {"conference"}
    assert not CLUSTER_FAMILIES & exported.keys()
    # Everything else is the same on both.
    assert exported_cluster.keys() - CLUSTER_FAMILIES == exported.keys()


# ---------------------------------------------------------------- PromQL names

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{([^{}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS = {
    "and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on", "ignoring",
    "group_left", "group_right", "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile",
}


def analyse(expr: str) -> tuple[set[str], set[str], set[str]]:
    """(metric names, label names used in matchers, label names kept by
    grouping) of a PromQL expression."""
    bare = _STRING.sub('""', expr)
    matchers = {m for body in _BRACES.findall(bare) for m in _MATCHER.findall(body)}
    grouping: set[str] = set()
    kept: set[str] = set()
    for keyword, labels in _GROUPING.findall(bare):
        names = {label.strip() for label in labels.split(",") if label.strip()}
        grouping |= names
        if keyword == "by":
            kept |= names
    rest = _RANGE.sub("", _GROUPING.sub(" ", _BRACES.sub(" ", bare)))
    metrics = set()
    for name, call in _IDENT.findall(rest):
        if call or name in _KEYWORDS:
            continue
        metrics.add(name)
    return metrics, matchers | grouping, kept


def test_analyse_finds_metrics_and_labels():
    metrics, used, kept = analyse(
        'histogram_quantile(0.5, sum by (conference, le) (rate(confchat_x_bucket{instance=~"$i", a="b=c"}[5m])))'
        ' and on (job) up{job="confchat"} > bool 3'
    )
    assert metrics == {"confchat_x_bucket", "up"}
    assert used == {"instance", "a", "conference", "le", "job"}
    assert kept == {"conference", "le"}


def check_expr(expr: str, exported: dict[str, set[str]], legend: str = "") -> list[str]:
    metrics, used, kept = analyse(expr)
    known = {**exported, "up": TARGET_LABELS}
    problems = [f"unknown metric {m}" for m in sorted(metrics - known.keys())]
    if not metrics:
        problems.append("no metric")
    available = set(TARGET_LABELS).union(*(known.get(m, set()) for m in metrics))
    problems += [f"label {label} not on {sorted(metrics)}" for label in sorted(used - available)]
    shown = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))
    if kept:  # after an aggregation only the `by` labels are left
        available = kept
    problems += [f"legend label {label} not in the result" for label in sorted(shown - available)]
    return problems


# ---------------------------------------------------------------- alerts


def alert_rules() -> list[dict]:
    [group] = yaml.safe_load(ALERTS.read_text())["groups"]
    assert group["name"] == "confchat"
    return group["rules"]


EXPECTED_ALERTS = {
    "ConfchatDown", "ModerationQueueWaitingTooLong", "ModerationQueueGrowing", "SendQEvictions",
    "StorageErrors", "StorageCommitsSlow", "FanoutSlow", "HighFileDescriptorUsage", "ConnectionsRefused",
    "PolicyFailing", "ShieldUp", "LoginFailuresHigh", "ClusterLinkDown", "ClusterNodesMissing", "ClusterLagHigh",
}


def test_alerts_have_severity_and_operator_annotations():
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == EXPECTED_ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert set(rule["annotations"]) >= {"summary", "description"}, rule["alert"]
        assert len(rule["annotations"]["description"]) > 150, f"{rule['alert']}: say what to do"


def test_alert_exprs_use_only_exported_metrics_and_labels(exported_cluster):
    problems = {rule["alert"]: check_expr(rule["expr"], exported_cluster) for rule in alert_rules()}
    assert {alert: p for alert, p in problems.items() if p} == {}


def test_only_the_cluster_alerts_need_a_cluster(exported):
    """The others work for a single process; the Cluster* ones stay silent
    there (no series)."""
    for rule in alert_rules():
        metrics = analyse(rule["expr"])[0]
        if rule["alert"].startswith("Cluster"):
            assert metrics <= CLUSTER_FAMILIES, rule["alert"]
        else:
            assert check_expr(rule["expr"], exported) == [], rule["alert"]


A = 'job="confchat", instance="a:8080"'
B = 'job="confchat", instance="b:8080"'
LA = {"job": "confchat", "instance": "a:8080"}
LB = {"job": "confchat", "instance": "b:8080"}


def _buckets(name: str, instance: str, per_bucket: dict[str, str]) -> list[dict]:
    return [{"series": f'{name}{{{instance}, le="{le}"}}', "values": values} for le, values in per_bucket.items()]


# alert -> (input series, [(eval time, expected alerts' labels)]), at 1m steps.
ALERT_CASES: dict[str, tuple[list[dict], list[tuple[str, list[dict]]]]] = {
    "ConfchatDown": (
        [{"series": f"up{{{A}}}", "values": "1 1 0 0 0 0"}, {"series": f"up{{{B}}}", "values": "1x5"}],
        [("1m", []), ("2m", []), ("4m", [{"severity": "critical", **LA}])],
    ),
    "ModerationQueueWaitingTooLong": (
        [
            {"series": f'confchat_queue_oldest_age_seconds{{{A}, conference="#q"}}', "values": "0+60x10"},
            {"series": f'confchat_conference_state{{{A}, conference="#q", state="live"}}', "values": "1x10"},
            {"series": f'confchat_conference_state{{{A}, conference="#q", state="closed"}}', "values": "0x10"},
            # Same age, but closed: not alerted.
            {"series": f'confchat_queue_oldest_age_seconds{{{A}, conference="#done"}}', "values": "0+60x10"},
            {"series": f'confchat_conference_state{{{A}, conference="#done", state="live"}}', "values": "0x10"},
            {"series": f'confchat_conference_state{{{A}, conference="#done", state="closed"}}', "values": "1x10"},
            # b: a second node of a cluster, with the same queue (a scrape later): one alert.
            {"series": f'confchat_queue_oldest_age_seconds{{{B}, conference="#q"}}', "values": "0 0+60x9"},
            {"series": f'confchat_conference_state{{{B}, conference="#q", state="live"}}', "values": "1x10"},
        ],
        [("6m", []), ("8m", [{"severity": "warning", "job": "confchat", "conference": "#q"}])],
    ),
    "ModerationQueueGrowing": (
        [
            {"series": f'confchat_queue_items{{{A}, conference="#q", state="pending"}}', "values": "0+2x30"},
            # Big but stable: moderators keep up.
            {"series": f'confchat_queue_items{{{A}, conference="#big", state="pending"}}', "values": "40x30"},
            {"series": f'confchat_queue_items{{{A}, conference="#q", state="held"}}', "values": "0+5x30"},
            # b: a second node of a cluster, with the same queue: one alert.
            {"series": f'confchat_queue_items{{{B}, conference="#q", state="pending"}}', "values": "0+2x30"},
        ],
        [("10m", []), ("20m", [{"severity": "warning", "job": "confchat", "conference": "#q", "state": "pending"}])],
    ),
    "SendQEvictions": (
        [
            {"series": f"confchat_sendq_evictions_total{{{A}}}", "values": "0+12x20"},  # 0.2/s
            {"series": f"confchat_sendq_evictions_total{{{B}}}", "values": "0+3x20"},  # 0.05/s
        ],
        [("10m", [{"severity": "warning", **LA}])],
    ),
    "StorageErrors": (
        [
            # a: one failed commit (retried successfully) at 5m.
            {"series": f"confchat_storage_errors_total{{{A}}}", "values": "0x5 1x25"},
            {"series": f"confchat_storage_failing{{{A}}}", "values": "0x30"},
            # b: failing from 2m on.
            {"series": f"confchat_storage_errors_total{{{B}}}", "values": "0 0 0+60x28"},
            {"series": f"confchat_storage_failing{{{B}}}", "values": "0 0 1x28"},
        ],
        [
            ("1m", []),
            ("7m", [{"severity": "critical", **LA}, {"severity": "critical", **LB}]),
            ("20m", [{"severity": "critical", **LB}]),
        ],
    ),
    "StorageCommitsSlow": (
        [
            *_buckets("confchat_storage_commit_seconds_bucket", A,
                      {"0.1": "0x20", "0.5": "0x20", "1.0": "0+10x20", "+Inf": "0+10x20"}),
            *_buckets("confchat_storage_commit_seconds_bucket", B,
                      {"0.1": "0+10x20", "0.5": "0+10x20", "1.0": "0+10x20", "+Inf": "0+10x20"}),
        ],
        [("5m", []), ("15m", [{"severity": "warning", **LA}])],
    ),
    "FanoutSlow": (
        [
            *_buckets("confchat_fanout_seconds_bucket", A,
                      {"0.01": "0x20", "0.1": "0x20", "0.25": "0+100x20", "+Inf": "0+100x20"}),
            *_buckets("confchat_fanout_seconds_bucket", B,
                      {"0.01": "0+100x20", "0.1": "0+100x20", "0.25": "0+100x20", "+Inf": "0+100x20"}),
        ],
        [("5m", []), ("15m", [{"severity": "warning", **LA}])],
    ),
    "HighFileDescriptorUsage": (
        [
            {"series": f"confchat_process_open_fds{{{A}}}", "values": "900x10"},
            {"series": f"confchat_process_max_fds{{{A}}}", "values": "1024x10"},
            {"series": f"confchat_process_open_fds{{{B}}}", "values": "100x10"},
            {"series": f"confchat_process_max_fds{{{B}}}", "values": "1024x10"},
        ],
        [("3m", []), ("6m", [{"severity": "warning", **LA}])],
    ),
    "ConnectionsRefused": (
        [
            {"series": f'confchat_connections_refused_total{{{A}, reason="per_ip_limit"}}', "values": "0+5x20"},
            {"series": f'confchat_connections_refused_total{{{B}, reason="per_ip_limit"}}', "values": "0+1x20"},
        ],
        [("10m", [{"severity": "warning", **LA, "reason": "per_ip_limit"}])],
    ),
    "PolicyFailing": (
        [
            {"series": f'confchat_policy_failures_total{{{A}, policy="remote", kind="timeout"}}', "values": "0x5 3x15"},
            {"series": f'confchat_policy_failures_total{{{B}, policy="remote", kind="timeout"}}', "values": "0x20"},
        ],
        [("3m", []), ("7m", [{"severity": "warning", **LA, "policy": "remote", "kind": "timeout"}]), ("15m", [])],
    ),
    "ShieldUp": (
        [
            {"series": f'confchat_shield{{{A}, conference="#q"}}', "values": "0 0 1 1 0"},
            {"series": f'confchat_shield{{{B}, conference="#q"}}', "values": "0 0 1 1 0"},  # a cluster's other node
            {"series": f'confchat_shield{{{A}, conference="#calm"}}', "values": "0x5"},
        ],
        [("1m", []), ("3m", [{"severity": "warning", "job": "confchat", "conference": "#q"}]), ("4m", [])],
    ),
    "LoginFailuresHigh": (
        [
            # a: 10 wrong passwords a minute, then the back-off refuses more.
            {"series": f'confchat_login_failures_total{{{A}, reason="wrong_password"}}', "values": "0+10x10 100x10"},
            {"series": f'confchat_login_failures_total{{{A}, reason="throttled"}}', "values": "0x10 0+20x10"},
            # b: staff mistyping now and then.
            {"series": f'confchat_login_failures_total{{{B}, reason="wrong_password"}}', "values": "0+1x20"},
        ],
        [("2m", []), ("6m", [{"severity": "warning", **LA}]), ("15m", [{"severity": "warning", **LA}])],
    ),
    "ClusterLinkDown": (
        [
            # a: Redis unreachable from 2m to 5m; b: a blip of one scrape.
            {"series": f"confchat_cluster_link_up{{{A}}}", "values": "1 1 0 0 0 0 1 1"},
            {"series": f"confchat_cluster_link_up{{{B}}}", "values": "1 1 1 0 1 1 1 1"},
        ],
        [("2m", []), ("4m", [{"severity": "critical", **LA}]), ("7m", [])],
    ),
    "ClusterNodesMissing": (
        [
            # a: three nodes for half an hour, then two: fires once the last
            # five minutes never saw three, and stops an hour on.
            {"series": f"confchat_cluster_nodes{{{A}}}", "values": "3x30 2x70"},
            # b: a node restarting now and then under a new number overlaps
            # its old self for a moment (4), and the count dips for a
            # heartbeat (2): never a missing node.
            {"series": f"confchat_cluster_nodes{{{B}}}", "values": "3x20 4 3x20 2 3x20 4 3x35"},
        ],
        [("20m", []), ("33m", []), ("40m", [{"severity": "warning", **LA}]),
         ("85m", [{"severity": "warning", **LA}]), ("98m", [])],
    ),
    "ClusterLagHigh": (
        [
            # a: 8 s behind from 3m; b: a burst of 9 s, caught up at once.
            {"series": f"confchat_cluster_lag_seconds{{{A}}}", "values": "0.01 0.02 0.01 8x10"},
            {"series": f"confchat_cluster_lag_seconds{{{B}}}", "values": "0.01 9 0.01x10"},
        ],
        [("2m", []), ("4m", []), ("6m", [{"severity": "warning", **LA}])],
    ),
}


def test_every_alert_has_a_behaviour_case():
    assert ALERT_CASES.keys() == EXPECTED_ALERTS


@pytest.mark.parametrize("alert", sorted(ALERT_CASES))
def test_alert_fires_when_it_should(promtool, tmp_path, alert):
    """promtool evaluates the rule (expr, for, labels) over synthetic series.
    Annotations are left out of the copy: they are prose, checked by
    `promtool check rules` and by the label test below."""
    [rule] = [copy.deepcopy(r) for r in alert_rules() if r["alert"] == alert]
    rule.pop("annotations")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "confchat", "rules": [rule]}]}))
    series, checks = ALERT_CASES[alert]
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": at, "alertname": alert, "exp_alerts": [{"exp_labels": labels} for labels in expected]}
                for at, expected in checks
            ],
        }],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    run_promtool(promtool, "test", "rules", "test.yml", cwd=tmp_path)


def test_alert_annotations_only_use_labels_the_alert_has():
    """{{ $labels.x }} of a label the alert lacks renders as "<no value>":
    compare with the labels promtool saw on the firing alerts above."""
    for rule in alert_rules():
        fired = [labels for _, expected in ALERT_CASES[rule["alert"]][1] for labels in expected]
        assert fired, f"{rule['alert']}: no firing case"
        has = set.intersection(*(set(labels) for labels in fired))
        for text in rule["annotations"].values():
            used = set(re.findall(r"\$labels\.(\w+)", text))
            assert used <= has, f"{rule['alert']}: {sorted(used - has)} not on the alert"


# ---------------------------------------------------------------- dashboard


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def all_panels(panels: list[dict]) -> list[dict]:
    out = []
    for panel in panels:
        out.append(panel)
        out += all_panels(panel.get("panels", []))  # collapsed rows keep theirs inside
    return out


def test_dashboard_structure():
    board = dashboard()
    assert board["uid"] == "confchat"
    assert board["title"] == "confchat"
    assert 36 <= board["schemaVersion"] <= 39
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    conference = variables["conference"]
    assert conference["type"] == "query"
    assert conference["multi"] is True and conference["includeAll"] is True
    assert re.fullmatch(r"label_values\(confchat_audience(\{[^}]*\})?, *conference\)", conference["definition"])
    assert conference["query"]["query"] == conference["definition"]

    panels = all_panels(board["panels"])
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    rows = [p["title"] for p in panels if p["type"] == "row"]
    assert rows == ["Overview", "Nodes", "Cluster", "Audience", "Moderation flow", "Latency", "Errors", "Resources",
                    "Automatic moderation"]
    # The node selector is Prometheus's instance: one per scraped node, and
    # what a single process has too.
    assert variables["instance"]["multi"] is True and variables["instance"]["includeAll"] is True
    assert variables["instance"]["allValue"] == ".*"
    graphs = [p for p in panels if p["type"] != "row"]
    assert {p["type"] for p in graphs} == {"timeseries", "stat"}
    for panel in graphs:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
    # The queries honour the conference selector wherever there is a conference label.
    for panel in graphs:
        for target in panel["targets"]:
            if re.search(r"confchat_(queue|audience|messages|moderation_wait|restrictions|conference_state|cluster_audience)",
                         target["expr"]):
                assert 'conference=~"$conference"' in target["expr"], panel["title"]


def test_dashboard_panels_do_not_overlap():
    """Grafana would push overlapping panels about on import: each panel has
    its own cells of the 24-column grid."""
    taken: dict[tuple[int, int], str] = {}
    for panel in all_panels(dashboard()["panels"]):
        grid = panel["gridPos"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} over {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


def panel_rows(panels: list[dict]) -> dict[int, str]:
    """Panel id -> the title of the row it is under (by position, as Grafana
    lays them out; a collapsed row's own panels are under it)."""
    out: dict[int, str] = {}
    current = ""
    for panel in sorted(panels, key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"])):
        if panel["type"] == "row":
            current = panel["title"]
            for inner in panel.get("panels", []):
                out[inner["id"]] = current
        out.setdefault(panel["id"], current)
    return out


def dashboard_queries(rows: set[str] | None = None) -> list[tuple[str, str, str]]:
    """(where, expr, legend) of every panel target and variable query; with
    ``rows``, of the panels under those rows only (and no variables)."""
    board = dashboard()
    under = panel_rows(board["panels"])
    out = []
    for panel in all_panels(board["panels"]):
        if rows is not None and under[panel["id"]] not in rows:
            continue
        for target in panel.get("targets", []):
            out.append((f"panel {panel['id']} {panel['title']!r} {target['refId']}", target["expr"], target.get("legendFormat", "")))
    if rows is not None:
        return out
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            m = re.fullmatch(r"label_values\((.+), *(\w+)\)", variable["definition"])
            assert m, variable["definition"]
            selector, label = m.groups()
            out.append((f"variable {variable['name']}", f"max by ({label}) ({selector})", ""))
    return out


def test_dashboard_exprs_use_only_exported_metrics_and_labels(exported_cluster):
    problems = {where: check_expr(expr, exported_cluster, legend) for where, expr, legend in dashboard_queries()}
    assert {where: p for where, p in problems.items() if p} == {}


def test_every_panel_but_the_cluster_row_works_for_a_single_process(exported):
    """A single process has no cluster metrics: only the Cluster row may
    need them (its panels are empty there), every other panel has data."""
    rows = {p["title"] for p in all_panels(dashboard()["panels"]) if p["type"] == "row"} - {"Cluster"}
    queries = dashboard_queries(rows)
    assert len(queries) > 40
    problems = {where: check_expr(expr, exported, legend) for where, expr, legend in queries}
    assert {where: p for where, p in problems.items() if p} == {}
    cluster_only = [where for where, expr, _ in dashboard_queries({"Cluster"}) if not analyse(expr)[0] & CLUSTER_FAMILIES]
    assert cluster_only == [], "in the Cluster row without a cluster metric"


# Conference figures every node of a cluster holds alike (each carries out
# the whole log): summed over nodes they would count a 3-node cluster's queue
# three times. Gauges of the conference's state, and the counters of what
# every node carries out (bans and mutes, shields raised).
REPLICATED = {
    "confchat_queue_items", "confchat_queue_oldest_age_seconds", "confchat_conference_state", "confchat_shield",
    "confchat_restrictions_total", "confchat_shield_raised_total", "confchat_cluster_nodes",
    "confchat_cluster_audience",
}
_AGGREGATION = re.compile(r"\b(sum|min|max|avg|count|group|stddev|stdvar|topk|bottomk|quantile|count_values)\s*"
                          r"(?:(?:by|without)\s*\([^()]*\)\s*)?$")


def first_aggregations(expr: str, metric: str) -> list[str]:
    """For each place ``metric`` appears in ``expr``: the aggregation
    operator nearest around it (functions such as rate() in between are
    skipped), or "" when it is not aggregated."""
    bare = _STRING.sub('""', expr)
    found = []
    for match in re.finditer(rf"(?<![\w:]){re.escape(metric)}(?![\w:])", bare):
        depth, position, operator = 0, match.start(), ""
        while position > 0 and not operator:
            position -= 1
            char = bare[position]
            if char == ")":
                depth += 1
            elif char == "(":
                if depth:
                    depth -= 1
                    continue
                m = _AGGREGATION.search(bare[:position])
                if m:
                    operator = m.group(1)
        found.append(operator)
    return found


def test_first_aggregations():
    expr = 'sum(max by (conference) (confchat_queue_items{a="("})) + sum by (x) (rate(confchat_queue_items[5m])) + confchat_queue_items'
    assert first_aggregations(expr, "confchat_queue_items") == ["max", "sum", ""]
    assert first_aggregations("histogram_quantile(0.5, sum by (le) (rate(m_bucket[1m])))", "m_bucket") == ["sum"]


def test_replicated_conference_figures_are_never_added_over_nodes():
    """The first aggregation around a replicated figure takes one node's
    value (max or min), never a sum or a count over nodes."""
    alerts = [(rule["alert"], rule["expr"], "") for rule in alert_rules()]
    problems = []
    for where, expr, _ in [*dashboard_queries(), *alerts]:
        for metric in REPLICATED:
            for operator in first_aggregations(expr, metric):
                if operator not in ("", "max", "min"):
                    problems.append(f"{where}: {operator} over {metric}")
    assert problems == []
    # ...and the Overview's pending questions are a sum over conferences of the max over nodes.
    [pending] = [expr for where, expr, _ in dashboard_queries() if "'Pending questions'" in where]
    assert first_aggregations(pending, "confchat_queue_items") == ["max"] and pending.startswith("sum(")


PER_NODE = {
    # metric -> a per-node panel must show it by instance
    "confchat_connections", "confchat_deliveries_total", "confchat_process_cpu_seconds_total",
    "confchat_process_resident_memory_bytes", "confchat_cluster_link_up", "confchat_cluster_lag_seconds",
    "confchat_cluster_entries_total", "confchat_cluster_outages_total",
}


def test_per_node_figures_have_a_panel_by_node():
    """Each of them is on a panel with one series per node: kept by instance
    (grouped by it, or not aggregated at all) with the instance in the
    legend; entries split into local and remote."""
    shown: dict[str, list[str]] = {}
    for where, expr, legend in dashboard_queries():
        metrics, _, kept = analyse(expr)
        if "{{instance}}" not in legend.replace(" ", ""):
            continue
        for metric in metrics & PER_NODE:
            operators = first_aggregations(expr, metric)
            if "instance" in kept or operators == [""] * len(operators):
                shown.setdefault(metric, []).append(where)
                if metric == "confchat_cluster_entries_total":
                    assert "origin" in kept and "{{origin}}" in legend.replace(" ", ""), where
    assert PER_NODE - shown.keys() == set()


def test_dashboard_exprs_are_valid_promql(promtool, tmp_path):
    """promtool parses each query (Grafana's variables replaced by values)
    as a recording rule."""
    rules = []
    for i, (where, expr, _) in enumerate(dashboard_queries()):
        expr = expr.replace("$__rate_interval", "1m").replace("$instance", ".*").replace("$conference", ".*")
        assert "$" not in expr, f"{where}: unknown variable in {expr}"
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    (tmp_path / "dashboard.rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run_promtool(promtool, "check", "rules", "dashboard.rules.yml", cwd=tmp_path)


def test_dashboard_covers_the_metrics():
    """Every family the brief lists appears on some panel."""
    used = set().union(*(analyse(expr)[0] for _, expr, _ in dashboard_queries()))
    for name in (
        "confchat_connections", "confchat_audience", "confchat_connections_accepted_total",
        "confchat_connections_closed_total", "confchat_messages_total", "confchat_queue_items",
        "confchat_queue_oldest_age_seconds", "confchat_moderation_wait_seconds_bucket",
        "confchat_restrictions_total", "confchat_fanout_seconds_bucket", "confchat_deliveries_total",
        "confchat_storage_commit_seconds_bucket", "confchat_sendq_evictions_total",
        "confchat_flood_throttles_total", "confchat_storage_errors_total", "confchat_storage_failing",
        "confchat_connections_refused_total", "confchat_process_resident_memory_bytes",
        "confchat_process_cpu_seconds_total", "confchat_process_open_fds", "confchat_received_bytes_total",
        "confchat_sent_bytes_total", *CLUSTER_FAMILIES,
    ):
        assert name in used, name


# ---------------------------------------------------------------- proxies, services, Redis

HAPROXY = DEPLOY / "haproxy"
NGINX = DEPLOY / "nginx"
SYSTEMD = DEPLOY / "systemd"
REDIS_SNIPPET = DEPLOY / "redis" / "confchat.conf"
TEMPLATES = [
    HAPROXY / "haproxy.cfg", HAPROXY / "haproxy-cluster.cfg", NGINX / "confchat.conf",
    NGINX / "confchat-cluster.conf", REDIS_SNIPPET,
]
_PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")




def _body(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def placeholders(path: Path) -> list[str]:
    """The placeholders a template's directives use (not its comments), in order."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(_body(path.read_text()))))


def fill(path: Path, values: dict[str, str]) -> str:
    text = path.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    assert not _PLACEHOLDER.search(_body(text)), f"a placeholder of {path.name} is left unfilled"
    return text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_placeholder_is_explained_in_the_header(path):
    """What to put in place of each @NAME@ is said in the comments (a
    numbered one as @NODEn_...@)."""
    comments = "\n".join(line for line in path.read_text().splitlines() if line.lstrip().startswith("#"))
    for name in placeholders(path):
        assert f"@{name}@" in comments or f"@{re.sub(r'[0-9]+', 'n', name)}@" in comments, f"{path.name}: @{name}@"


@pytest.mark.parametrize("name", ["haproxy.cfg", "haproxy-cluster.cfg"])
def test_haproxy_takes_the_shipped_config(tmp_path, name):
    exe = program("haproxy", "haproxy")
    template = HAPROXY / name
    config = tmp_path / name
    config.write_text(fill(template, {key: f"127.0.0.1:{free_port()}" for key in placeholders(template)}))
    result = subprocess.run([exe, "-c", "-f", str(config)], capture_output=True, text=True, timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output and "ALERT" not in output, output


def haproxy_sections(text: str) -> dict[str, list[str]]:
    """"backend name" -> its directives (stripped, comments left out)."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in _body(text).splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            current = sections.setdefault(line.strip(), [])
        else:
            current.append(" ".join(line.split()))
    return sections


def test_the_cluster_balancer_checks_readyz_and_each_irc_server_follows_its_node():
    sections = haproxy_sections((HAPROXY / "haproxy-cluster.cfg").read_text())
    web, irc = sections["backend confchat_web"], sections["backend confchat_irc"]
    assert "balance leastconn" in web and "balance leastconn" in irc
    assert "option httpchk GET /readyz" in web and "http-check expect status 200" in web
    [checks] = [d for d in web if d.startswith("default-server")]
    assert " check " in checks + " "
    [irc_defaults] = [d for d in irc if d.startswith("default-server")]
    assert "send-proxy-v2" in irc_defaults.split()
    web_servers = {d.split()[1]: d.split()[2] for d in web if d.startswith("server ")}
    irc_servers = {d.split()[1]: d.split() for d in irc if d.startswith("server ")}
    assert web_servers.keys() == irc_servers.keys() and len(web_servers) >= 2
    for name, words in irc_servers.items():
        # The IRC server is up while its own node's web server answers /readyz.
        assert words[3:5] == ["track", f"confchat_web/{name}"], words
        number = re.fullmatch(r"node(\d+)", name)[1]
        assert words[2] == f"@NODE{number}_PROXY@" and web_servers[name] == f"@NODE{number}_HTTP@"
    assert "option forwardfor" in sections["frontend web"]


def nginx_test(exe: str, root: Path, site_text: str) -> subprocess.CompletedProcess:
    """nginx -t of a site inside what Debian's nginx.conf puts around it."""
    root.mkdir()
    site = root / "site.conf"
    site.write_text(site_text)
    (root / "nginx.conf").write_text(
        f"worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
        "events { worker_connections 64; }\n"
        "http {\n    access_log off;\n"
        + "".join(f"    {kind}_temp_path {root}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        + f"    include {site};\n}}\n"
    )
    return subprocess.run([exe, "-t", "-p", str(root), "-c", str(root / "nginx.conf")],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("name", ["confchat.conf", "confchat-cluster.conf"])
def test_nginx_takes_the_shipped_site(tmp_path, name):
    exe = program("nginx", "nginx-light")
    template = NGINX / name
    result = nginx_test(exe, tmp_path / "nginx", fill(template, {
        key: f"127.0.0.1:{free_port()}" for key in placeholders(template)}))
    assert result.returncode == 0, result.stderr
    assert "[warn]" not in result.stderr and "[emerg]" not in result.stderr, result.stderr


def test_the_nginx_cluster_site_balances_every_node_by_connections():
    text = _body((NGINX / "confchat-cluster.conf").read_text())
    upstream = re.search(r"upstream confchat_cluster \{(.*?)\}", text, re.S)[1]
    assert "least_conn;" in upstream
    servers = re.findall(r"server @NODE(\d+)_HTTP@", upstream)
    assert servers == [str(i) for i in range(1, len(servers) + 1)] and len(servers) >= 2
    assert "proxy_pass http://confchat_cluster;" in text
    # What the single-server site does for the WebSocket and the address, it does too.
    single = _body((NGINX / "confchat.conf").read_text())
    for directive in re.findall(r"^\s*(proxy_set_header [^;]+;)", single, re.M):
        assert directive in text, directive


def _verify_unit(exe: str, unit: Path) -> str:
    """systemd-analyze verify of ``unit`` with the drop-ins beside it
    (unit.d/), and a canary drop-in that proves they are read; its stderr
    without the canary's lines."""
    drop_ins = unit.parent / f"{unit.name}.d"
    drop_ins.mkdir(exist_ok=True)
    (drop_ins / "zz-canary.conf").write_text("[Service]\nCanaryOfTheTest=1\n")
    env = dict(os.environ, SYSTEMD_UNIT_PATH=f"{unit.parent}:")
    result = subprocess.run([exe, "verify", str(unit)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert "CanaryOfTheTest" in result.stderr, "the drop-ins were not read: " + result.stderr
    return "\n".join(line for line in result.stderr.splitlines() if "zz-canary.conf" not in line)


def test_the_cluster_drop_in_verifies_with_the_unit_and_runs_what_the_cli_accepts(tmp_path):
    """deploy/systemd/confchat-cluster.conf on top of confchat.service: both
    pass systemd-analyze verify (ExecStart pointed at this checkout's
    confchat), and its command line is one ``confchat serve`` accepts, up to
    asking for the Redis that workers need."""
    exe = program("systemd-analyze", "systemd")
    local = shutil.which("confchat", path=str(Path(sys.executable).parent))
    assert local is not None
    unit = (SYSTEMD / "confchat.service").read_text()
    drop_in = (SYSTEMD / "confchat-cluster.conf").read_text()
    assert re.search(r"^KillMode=mixed$", unit, re.M), "SIGTERM for the supervisor only"
    starts = re.findall(r"^ExecStart=(.*)$", drop_in, re.M)
    assert starts[0] == "", "ExecStart= first: a drop-in adds to the unit's list otherwise"
    [program_, *arguments] = starts[1].split()
    assert program_ == "/opt/confchat/bin/confchat"
    assert arguments[:3] == ["serve", "--config", "/etc/confchat/config.toml"] and "--workers" in arguments
    (tmp_path / "confchat.service").write_text(unit.replace(program_, local))
    (tmp_path / "confchat.service.d").mkdir()
    (tmp_path / "confchat.service.d" / "cluster.conf").write_text(drop_in.replace(program_, local))
    stderr = _verify_unit(exe, tmp_path / "confchat.service")
    assert "confchat.service" not in stderr and "cluster.conf" not in stderr, stderr
    # The same options against a config file without [cluster]: refused, with what to add.
    config_file = tmp_path / "config.toml"
    config_file.write_text('[server]\nname = "web1"\n')
    check = subprocess.run([local, *[config_file.as_posix() if a == "/etc/confchat/config.toml" else a
                                     for a in arguments]],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 2 and "cluster.redis_url is not set" in check.stderr, check.stderr


def test_the_redis_drop_in_verifies_with_debians_unit(tmp_path):
    exe = program("systemd-analyze", "systemd")
    debian = next((p for p in (Path("/lib/systemd/system/redis-server.service"),
                               Path("/usr/lib/systemd/system/redis-server.service")) if p.exists()), None)
    if debian is None:
        message = "redis-server.service not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    shutil.copy(debian, tmp_path / "redis-server.service")
    (tmp_path / "redis-server.service.d").mkdir()
    shutil.copy(SYSTEMD / "confchat-redis.conf", tmp_path / "redis-server.service.d" / "confchat.conf")
    stderr = _verify_unit(exe, tmp_path / "redis-server.service")
    assert "confchat.conf" not in stderr, stderr


class Resp:
    """One connection to Redis, logged in as ``user`` (or not at all)."""

    def __init__(self, host: str, port: int, user: str | None = None, password: str = "") -> None:
        from redis_server import _Reader

        self.sock = socket.create_connection((host, port), timeout=5)
        self.reader = _Reader(self.sock)
        if user is not None:
            self("AUTH", user, password)

    def __call__(self, *args: str) -> object:
        from redis_server import encode

        self.sock.sendall(encode(*args))
        return self.reader.reply()

    def close(self) -> None:
        self.sock.close()


def sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


REDIS_BIND = "127.0.0.2"  # the "private address": another loopback one than redis-cli's 127.0.0.1


def start_redis_with_snippet(directory: Path, passwords: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """redis-server with Debian's /etc/redis/redis.conf (if installed) and
    deploy/redis/confchat.conf included at its end, as docs/deploy.md says;
    the port, directory and foreground running given on the command line.
    (process, port) once it answers."""
    from redis_server import RedisError, redis_binary

    exe = redis_binary()
    directory.mkdir(parents=True, exist_ok=True)
    snippet = directory / "confchat.conf"
    snippet.write_text(fill(REDIS_SNIPPET, {
        "REDIS_BIND": REDIS_BIND,
        "CONFCHAT_PASSWORD_SHA256": sha256(passwords["confchat"]),
        "ADMIN_PASSWORD_SHA256": sha256(passwords["admin"]),
    }))
    debian = Path("/etc/redis/redis.conf")
    main = debian.read_text() if debian.exists() else ""
    (directory / "redis.conf").write_text(main + f"\ninclude {snippet}\n")
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [exe, str(directory / "redis.conf"), "--port", str(port), "--dir", str(directory),
             "--daemonize", "no", "--supervised", "no", "--pidfile", str(directory / "redis.pid"),
             "--logfile", str(directory / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                admin = Resp(REDIS_BIND, port, "admin", passwords["admin"])
                admin.close()
                return proc, port
            except (OSError, RedisError):
                time.sleep(0.05)
        proc.kill()
        proc.wait()
    log = directory / "redis.log"
    raise AssertionError("redis-server did not start:\n" + (log.read_text() if log.exists() else ""))


def test_redis_takes_the_snippet_on_top_of_debians_config(tmp_path):
    from redis_server import RedisError

    passwords = {"confchat": "nodes-secret", "admin": "admin-secret"}
    proc, port = start_redis_with_snippet(tmp_path / "redis", passwords)
    try:
        admin = Resp(REDIS_BIND, port, "admin", passwords["admin"])
        got = {key: admin("CONFIG", "GET", key)[1].decode() for key in
               ("appendonly", "appendfsync", "save", "maxmemory-policy", "bind", "protected-mode")}
        assert got["appendonly"] == "yes" and got["appendfsync"] == "always" and got["save"] == ""
        assert got["maxmemory-policy"] == "noeviction" and got["protected-mode"] == "yes"
        assert REDIS_BIND in got["bind"].split()
        assert b"aof_enabled:1" in admin("INFO", "persistence")
        # Nobody gets in without a password, nor with a wrong one.
        anonymous = Resp(REDIS_BIND, port)
        with pytest.raises(RedisError, match="NOAUTH"):
            anonymous("PING")
        with pytest.raises(RedisError, match="WRONGPASS"):
            Resp(REDIS_BIND, port, "confchat", "guess")
        # confchat's user: what the nodes do, on confchat's keys only.
        node = Resp(REDIS_BIND, port, "confchat", passwords["confchat"])
        assert node("INCR", "confchat:nodes") == 1
        entry = node("XADD", "confchat:log", "*", "op", "{}")
        assert node("XREAD", "COUNT", "10", "STREAMS", "confchat:log", "0-0")[0][1][0][0] == entry
        assert node("SET", "confchat:used:token", "1", "NX", "EX", "3600") == "OK"
        node("HSET", "confchat:node:1", "name", "web1")
        assert node("EXPIRE", "confchat:node:1", "15") == 1
        node("ZADD", "confchat:alive", "1", "1")
        assert node("ZRANGE", "confchat:alive", "0", "-1") == [b"1"]
        for forbidden in (("GET", "sessions:other-app"), ("FLUSHALL",), ("CONFIG", "GET", "dir"), ("KEYS", "*"),
                          ("ACL", "SETUSER", "intruder", "on"), ("SHUTDOWN",)):
            with pytest.raises(RedisError, match="NOPERM"):
                node(*forbidden)
        for client in (admin, anonymous, node):
            client.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_aof_backup_restores_into_a_redis_with_the_same_log(tmp_path):
    """deploy/redis/backup-aof.sh on a running Redis (rewritten once, so
    that there is a base and an increment), then a new Redis started on the
    tarball's files has the same log."""
    program("redis-cli", "redis-tools")
    passwords = {"confchat": "nodes-secret", "admin": "admin-secret"}
    proc, port = start_redis_with_snippet(tmp_path / "redis", passwords)
    try:
        node = Resp(REDIS_BIND, port, "confchat", passwords["confchat"])
        admin = Resp(REDIS_BIND, port, "admin", passwords["admin"])
        for i in range(30):
            node("XADD", "confchat:log", "*", "op", f"before {i}")
        admin("BGREWRITEAOF")
        wait = time.monotonic() + 10
        while b"aof_rewrite_in_progress:0" not in admin("INFO", "persistence") and time.monotonic() < wait:
            time.sleep(0.05)
        for i in range(30):
            last = node("XADD", "confchat:log", "*", "op", f"after {i}")
        env = dict(os.environ, REDIS_HOST=REDIS_BIND, REDIS_PORT=str(port), REDISCLI_AUTH=passwords["admin"])
        result = subprocess.run(["sh", str(DEPLOY / "redis" / "backup-aof.sh"), str(tmp_path / "backups")],
                                capture_output=True, text=True, timeout=60, env=env)
        assert result.returncode == 0, result.stderr
        tarball = Path(result.stdout.strip())
        assert tarball.parent == tmp_path / "backups" and tarball.exists()
        # Rewrites are on again, and the hard links are gone.
        assert admin("CONFIG", "GET", "auto-aof-rewrite-percentage")[1] == b"100"
        assert not list((tmp_path / "redis").glob("backup-*"))
        node.close()
        admin.close()
    finally:
        proc.terminate()
        proc.wait(10)
    restored = tmp_path / "restored"
    (restored / "appendonlydir").mkdir(parents=True)
    subprocess.run(["tar", "-C", str(restored / "appendonlydir"), "-xzf", str(tarball)], check=True, timeout=30)
    proc, port = start_redis_with_snippet(restored, passwords)
    try:
        node = Resp(REDIS_BIND, port, "confchat", passwords["confchat"])
        assert node("XLEN", "confchat:log") == 60
        assert node("XREVRANGE", "confchat:log", "+", "-", "COUNT", "1")[0][0] == last
        node.close()
    finally:
        proc.terminate()
        proc.wait(10)


# ---------------------------------------------------------------- README


def shipped() -> list[str]:
    """Every file of deploy/ but its README, relative to deploy/."""
    return sorted(p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*") if p.is_file() and p != README)


def test_readme_explains_every_alert_and_file():
    text = README.read_text()
    for alert in EXPECTED_ALERTS:
        assert alert in text, alert
    for path in ("prometheus.yml", "alerts.yml", "grafana/confchat-dashboard.json", *shipped()):
        assert path in text, path


def test_deploy_md_shows_how_to_use_every_config_file_and_what_a_cluster_needs():
    text = DOCS.read_text()
    for path in shipped():
        if path.split("/")[0] in ("haproxy", "nginx", "systemd", "redis"):
            assert f"deploy/{path}" in text, path
    for needle in (
        "cloak.key", "same file on every host", "worker-<i>", "--workers", "KillMode=mixed",
        "appendonly yes", "appendfsync always", "everysec", "requirepass", "bind", "noeviction",
        "CLUSTER_UNAVAILABLE", "CLUSTER_DOWN", "CLUSTER_UP", "CHATHISTORY", "/readyz", "leastconn",
        "trusted_proxies", "send-proxy-v2", "X-Forwarded-For", "Workers and metrics",
    ):
        assert needle in text, needle
