"""Durability over real processes: what the server acknowledged survives
``kill -9``; transcripts come out of the database."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from argon2 import PasswordHasher

PASSWORD = "pw-for-tests"
HASH = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
CAPS = ("message-tags", "server-time", "standard-replies", "batch", "echo-message")
CHAN = "#townhall"
CONFIG = {
    # One visitor asks many questions in a row here: no cap on its share of the queue.
    "moderation": {"max_pending_per_visitor": 0, "max_pending_per_address": 0},
    "accounts": [{"name": "moda", "password_hash": HASH}],
    "conferences": [{"channel": CHAN, "title": "Ask the mayor", "moderators": ["moda"], "state": "live"}],
}


def held(msg) -> bool:
    return msg.command == "NOTE" and msg.params[1] == "HELD"


def queue_list(moderator):
    moderator.send(f"QUEUE {CHAN} LIST")
    items = []
    while True:
        msg = moderator.expect("QUEUE")
        if msg.params[1] == "END":
            return items
        items.append((int(msg.params[2]), msg.params[3], msg.params[-1]))


def test_acknowledged_work_survives_kill_9(start_server, tmp_path):
    data = str(tmp_path / "data")
    server = start_server(CONFIG, "--data-dir", data)
    moda = server.client("moda", caps=CAPS, sasl=("moda", PASSWORD))
    moda.send(f"JOIN {CHAN}")
    moda.expect("366")
    citizen = server.client("citizen", caps=CAPS)
    citizen.send(f"JOIN {CHAN}")
    citizen.expect("366")
    acknowledged = []
    for n in range(1, 41):
        citizen.send(f"PRIVMSG {CHAN} :question {n}")
        note = citizen.expect(held)
        acknowledged.append((int(note.params[3]), f"question {n}"))
    moda.send(f"QUEUE {CHAN} MOVE 7 top")
    moda.send(f"QUEUE {CHAN} APPROVE 7")
    moda.send(f"QUEUE {CHAN} DROP 2 :off topic")
    moda.send(f"PRIVMSG {CHAN} :Welcome, everyone")
    moda.send(f"CONF {CHAN} BAN troll!*@* 0 :spam")
    confirmed = moda.expect(lambda m: m.command == "NOTE" and m.params[1] == "BAN")
    assert confirmed.params[-1] == "troll!*@* banned (0 present)"
    published = [m for m in moda.received if m.command == "PRIVMSG"]
    assert [m.params[1] for m in published] == ["question 7", "Welcome, everyone"]

    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)

    again = start_server(CONFIG, "--data-dir", data)
    moda = again.client("moda", caps=CAPS, sasl=("moda", PASSWORD))
    moda.send(f"JOIN {CHAN}")
    moda.expect("366")
    history = [m for m in moda.drain() if m.command == "PRIVMSG"]
    assert [(m.params[1], m.tags["msgid"]) for m in history] == [
        (m.params[1], m.tags["msgid"]) for m in published
    ]
    expected = [(i, "pending", text) for i, text in acknowledged if i not in (2, 7)]
    assert queue_list(moda) == expected
    moda.send(f"CONF {CHAN} BANS")
    ban = moda.expect(lambda m: m.command == "CONF" and m.params[1] == "RESTRICTION")
    assert ban.params[2:4] == ("ban", "troll!*@*")
    # New questions continue the numbering.
    citizen = again.client("citizen", caps=CAPS)
    citizen.send(f"JOIN {CHAN}")
    citizen.send(f"PRIVMSG {CHAN} :after the crash")
    assert citizen.expect(held).params[3] == "41"


def test_closing_writes_transcripts_and_export_reads_them(start_server, tmp_path):
    data = tmp_path / "data"
    server = start_server(CONFIG, "--data-dir", str(data))
    moda = server.client("moda", caps=CAPS, sasl=("moda", PASSWORD))
    moda.send(f"JOIN {CHAN}")
    citizen = server.client("citizen", caps=CAPS)
    citizen.send(f"JOIN {CHAN}")
    citizen.send(f"PRIVMSG {CHAN} :<script>alert('x')</script> When?")
    citizen.expect(held)
    moda.send(f"QUEUE {CHAN} APPROVE 1")
    moda.send(f"CONF {CHAN} STATE closed")
    moda.expect(lambda m: m.command == "NOTE" and m.params[1] == "STATE")
    transcripts = data / "transcripts"
    files = []
    for _ in range(200):
        files = sorted(p.name for p in transcripts.glob("[!.]*")) if transcripts.exists() else []
        if len(files) == 3:
            break
        moda.roundtrip()
    assert sorted(n.rsplit(".", 1)[1] for n in files) == ["html", "json", "json"]
    assert sum(n.endswith("-internal.json") for n in files) == 1
    html_file = next(transcripts.glob("*.html")).read_text()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; When?" in html_file
    assert "<script>" not in html_file

    result = subprocess.run(
        [sys.executable, "-m", "confchat", "export", CHAN, "--data-dir", str(data), "--format", "json", "--internal"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    archive = json.loads(result.stdout)
    assert [m["text"] for m in archive["messages"]] == ["<script>alert('x')</script> When?"]
    # The close ends with its summary (moderation/summary.py).
    assert [a["action"] for a in archive["audit"]][-3:] == ["approve", "state", "summary"]


def test_a_moderator_downloads_the_transcript_over_http(start_server):
    import http.client

    server = start_server(CONFIG)
    moda = server.client("moda", caps=CAPS, sasl=("moda", PASSWORD))
    moda.send(f"JOIN {CHAN}")
    citizen = server.client("citizen", caps=CAPS)
    citizen.send(f"JOIN {CHAN}")
    citizen.send(f"PRIVMSG {CHAN} :Is the pool open in winter?")
    citizen.expect(held)
    moda.send(f"QUEUE {CHAN} APPROVE 1")
    moda.send(f"CONF {CHAN} EXPORT html")
    link = moda.expect(lambda m: m.command == "CONF" and m.params[1] == "EXPORT").params[4]

    def fetch(path):
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Disposition") or "", response.read().decode()

    status, disposition, body = fetch(link)
    assert status == 200 and disposition.startswith("attachment;")
    assert "Is the pool open in winter?" in body and "127.0.0.1" not in body
    assert fetch(link)[0] == 404  # single use


def test_a_closing_right_before_a_stop_still_gets_its_transcripts(start_server, tmp_path):
    """Transcripts are written by a task of their own (the writer goes on
    committing meanwhile); one still waiting when the server stops is
    written before it exits."""
    data = tmp_path / "data"
    server = start_server(CONFIG, "--data-dir", str(data))
    moda = server.client("moda", caps=CAPS, sasl=("moda", PASSWORD))
    moda.send(f"JOIN {CHAN}")
    moda.expect("366")
    moda.send(f"CONF {CHAN} STATE closed")
    moda.expect(lambda m: m.command == "NOTE" and m.params[1] == "STATE")
    assert server.stop() == 0  # SIGTERM at once
    files = sorted(p.name for p in (data / "transcripts").glob("[!.]*"))
    assert sorted(n.rsplit(".", 1)[1] for n in files) == ["html", "json", "json"]


def test_kill_9_in_a_busy_session_loses_nothing_acknowledged(start_server, tmp_path):
    """The same guarantee under load: a dozen visitors asking without
    waiting and a moderator approving as items come, killed in the middle.
    Every question the server acknowledged (NOTE HELD, read from the
    sockets up to the kill) is in the database with its text, and every
    publication the moderator saw is stored as published."""
    data = tmp_path / "data"
    config = {**CONFIG, "limits": {"flood_burst": 1000, "flood_rate": 1000.0}}
    server = start_server(config, "--data-dir", str(data))
    moda = server.client("moda", caps=CAPS, sasl=("moda", PASSWORD))
    moda.send(f"JOIN {CHAN}")
    moda.expect("366")
    visitors = [server.client(f"v{i}", caps=CAPS) for i in range(12)]
    for visitor in visitors:
        visitor.send(f"JOIN {CHAN}")
        visitor.expect("366")
    sent: dict[str, list[str]] = {v.nick: [] for v in visitors}
    acked: dict[int, str] = {}
    seen_published: set[int] = set()

    answered = {v.nick: 0 for v in visitors}  # acknowledgements come in the order sent

    def read(visitor, quiet: float) -> None:
        for msg in visitor.drain(quiet):
            if held(msg):
                acked[int(msg.params[3])] = sent[visitor.nick][answered[visitor.nick]]
                answered[visitor.nick] += 1

    for round_ in range(12):
        for visitor in visitors:
            text = f"{visitor.nick}: question {round_}"
            sent[visitor.nick].append(text)
            visitor.send(f"PRIVMSG {CHAN} :{text}")
        for msg in moda.drain(0.01):
            if msg.command == "QUEUE" and msg.params[1] == "ITEM" and msg.params[3] == "pending":
                moda.send(f"QUEUE {CHAN} APPROVE {msg.params[2]}")
            if msg.command == "PRIVMSG" and "confchat/item" in msg.tags:
                seen_published.add(int(msg.tags["confchat/item"]))
        if round_ == 8:
            server.proc.send_signal(signal.SIGKILL)  # with questions and approvals in flight
            server.proc.wait(10)
            break
        for visitor in visitors:
            read(visitor, 0.005)
    for visitor in visitors:  # what the server sent before it died
        read(visitor, 0.2)
    for msg in moda.drain(0.2):
        if msg.command == "PRIVMSG" and "confchat/item" in msg.tags:
            seen_published.add(int(msg.tags["confchat/item"]))
    assert len(acked) >= 12 and seen_published  # there was load to lose

    result = subprocess.run(
        [sys.executable, "-m", "confchat", "export", CHAN, "--format", "json", "--internal", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    items = {item["id"]: item for item in json.loads(result.stdout)["items"]}
    missing = {i: t for i, t in acked.items() if i not in items or items[i]["text"] != t}
    assert missing == {}
    assert {i for i in seen_published if items[i]["state"] != "published"} == set()
