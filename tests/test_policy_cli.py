"""``confchat policy test``: each policy's verdict and the chain's result for a
text or a file of messages, as moderators tune their lists before an event."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from confchat.cli import main

CONFIG = """
[moderation]
policies = [{ policy = "blocklist" }, { policy = "links", allow = ["ville.fr"] }]

[[conferences]]
channel = "#townhall"
title = "Ask the mayor"
policies = [{ policy = "example" }]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def test_one_text_prints_each_policy_and_the_chain(config, capsys):
    assert main(["policy", "test", "--config", str(config), "#townhall", "Quel c0nnard, voir arnaque.com"]) == 0
    lines = capsys.readouterr().out.splitlines()
    verdicts = {line.split()[0]: line.split()[1] for line in lines}
    assert verdicts["blocklist"] == "drop" and verdicts["links"] == "hold" and verdicts["example"] == "publish"
    assert lines[-1].startswith("=> chain") and "drop" in lines[-1] and "connard" in lines[-1]


def test_json_has_verdict_policy_and_reason(config, capsys):
    assert main(["policy", "test", "--config", str(config), "#townhall", "a doubtful question", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["verdict"], result["policy"]) == ("hold", "example")
    assert result["reason"] == "contains 'doubtful'"
    assert main(["policy", "test", "--config", str(config), "#townhall", "Bonjour de Concarneau", "--json"]) == 0
    place = json.loads(capsys.readouterr().out)
    assert place["verdict"] == "publish" and place["policy"] == ""


def test_a_file_gives_a_table_and_totals(config, tmp_path):
    messages = tmp_path / "messages.txt"
    messages.write_text("Bonjour\nQuel idiot\nvoir https://ville.fr/agenda\nspam sur arnaque.com\nforbidden words\n")
    out = subprocess.run(
        [sys.executable, "-m", "confchat", "policy", "test", "--config", str(config), "#townhall", "--file", str(messages)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    *rows, totals = out.stdout.splitlines()
    assert [row.split()[0] for row in rows] == ["publish", "hold", "publish", "hold", "drop"]
    assert totals == "5 messages: 2 publish, 2 hold, 1 drop"


def test_a_configuration_error_exits_with_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.replace('{ policy = "links", allow = ["ville.fr"] }', '{ policy = "links", allow = 3 }'))
    assert main(["policy", "test", "--config", str(bad), "#townhall", "x"]) == 2
    assert "links" in capsys.readouterr().err
    good = tmp_path / "good.toml"
    good.write_text(CONFIG)
    assert main(["policy", "test", "--config", str(good), "#nowhere", "x"]) == 2
