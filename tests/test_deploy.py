"""The monitoring files in deploy/: Prometheus config, alert rules, Grafana
dashboard.

promtool (Debian package prometheus, scripts/install-test-deps) checks the
config and the rules, checks the dashboard's queries as PromQL, and runs each
alert against synthetic series. The metric and label names every query uses
are checked against a scrape of a real server (a subprocess, driven through a
moderated question, a mute and a refused connection first, so that every
metric family has samples and so label names).
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

import pytest
import tomli_w
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "alerts.yml"
PROMETHEUS = DEPLOY / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "confchat-dashboard.json"
README = DEPLOY / "README.md"

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


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, set[str]]:
    """Every metric name a real server exports (histograms as _bucket/_sum/
    _count, counters with _total), with the label names of its samples."""
    from confchat.core.passwords import hash_password

    workdir = tmp_path_factory.mktemp("server")
    config = {
        "limits": {"max_connections_per_ip": 2},
        "accounts": [{"name": "mod", "password_hash": hash_password("secret")}],
        "conferences": [{"channel": "#q", "title": "Q", "state": "live", "moderators": ["mod"], "slow_mode": 0,
                         # a built-in that decides, and the example plugin that fails
                         "policies": [{"policy": "links"}, {"policy": "example-broken"}]}],
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
            text = response.read().decode()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stderr.close()

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
    "PolicyFailing", "ShieldUp", "LoginFailuresHigh",
}


def test_alerts_have_severity_and_operator_annotations():
    rules = alert_rules()
    assert {rule["alert"] for rule in rules} == EXPECTED_ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert set(rule["annotations"]) >= {"summary", "description"}, rule["alert"]
        assert len(rule["annotations"]["description"]) > 150, f"{rule['alert']}: say what to do"


def test_alert_exprs_use_only_exported_metrics_and_labels(exported):
    problems = {rule["alert"]: check_expr(rule["expr"], exported) for rule in alert_rules()}
    assert {alert: p for alert, p in problems.items() if p} == {}


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
        ],
        [("6m", []), ("8m", [{"severity": "warning", **LA, "conference": "#q"}])],
    ),
    "ModerationQueueGrowing": (
        [
            {"series": f'confchat_queue_items{{{A}, conference="#q", state="pending"}}', "values": "0+2x30"},
            # Big but stable: moderators keep up.
            {"series": f'confchat_queue_items{{{A}, conference="#big", state="pending"}}', "values": "40x30"},
            {"series": f'confchat_queue_items{{{A}, conference="#q", state="held"}}', "values": "0+5x30"},
        ],
        [("10m", []), ("20m", [{"severity": "warning", **LA, "conference": "#q", "state": "pending"}])],
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
            {"series": f'confchat_shield{{{B}, conference="#q"}}', "values": "0x5"},
        ],
        [("1m", []), ("3m", [{"severity": "warning", **LA, "conference": "#q"}]), ("4m", [])],
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
    assert rows == ["Overview", "Audience", "Moderation flow", "Latency", "Errors", "Resources", "Automatic moderation"]
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
            if re.search(r"confchat_(queue|audience|messages|moderation_wait|restrictions|conference_state)", target["expr"]):
                assert 'conference=~"$conference"' in target["expr"], panel["title"]


def dashboard_queries() -> list[tuple[str, str, str]]:
    """(where, expr, legend) of every panel target and variable query."""
    board = dashboard()
    out = []
    for panel in all_panels(board["panels"]):
        for target in panel.get("targets", []):
            out.append((f"panel {panel['id']} {panel['title']!r} {target['refId']}", target["expr"], target.get("legendFormat", "")))
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            m = re.fullmatch(r"label_values\((.+), *(\w+)\)", variable["definition"])
            assert m, variable["definition"]
            selector, label = m.groups()
            out.append((f"variable {variable['name']}", f"max by ({label}) ({selector})", ""))
    return out


def test_dashboard_exprs_use_only_exported_metrics_and_labels(exported):
    problems = {where: check_expr(expr, exported, legend) for where, expr, legend in dashboard_queries()}
    assert {where: p for where, p in problems.items() if p} == {}


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
        "confchat_sent_bytes_total",
    ):
        assert name in used, name


# ---------------------------------------------------------------- README


def test_readme_explains_every_alert_and_file():
    text = README.read_text()
    for alert in EXPECTED_ALERTS:
        assert alert in text, alert
    for path in ("prometheus.yml", "alerts.yml", "grafana/confchat-dashboard.json"):
        assert path in text, path
