"""Three nodes and a real redis-server: one conference, one audience.

Each node is a real ``confchat serve`` process with its own database; they
share the conference through the cluster's log in Redis (docs/cluster.md).
A visitor on node 1 asks, a moderator on node 2 decides, viewers on nodes 2
and 3 see the publications; two moderators on different nodes race on one
item; node 3 is killed and the others go on; Redis restarts mid-session.
"""

from __future__ import annotations

import time

import pytest

from confchat.core.passwords import hash_password
from redis_server import RedisServer

CHAN = "#townhall"
PASSWORDS = {"modA": "modA-secret", "modB": "modB-secret", "mayor": "mayor-secret"}
STAFF_CAPS = ("message-tags", "server-time", "echo-message", "standard-replies", "draft/message-redaction")
VIEWER_CAPS = ("message-tags", "server-time", "draft/message-redaction", "standard-replies")


def config(redis_url: str) -> dict:
    return {
        "limits": {"flood_burst": 1000},
        "server": {"cloak_hosts": False},
        "cluster": {"redis_url": redis_url},
        "accounts": [{"name": n, "password_hash": hash_password(p)} for n, p in PASSWORDS.items()],
        "conferences": [{
            "channel": CHAN, "title": "Ask the mayor", "moderators": ["modA", "modB"], "guests": ["mayor"],
            "state": "live", "mode": "moderated",
        }],
    }


@pytest.fixture
def cluster(start_server, tmp_path):
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    nodes = [start_server(config(redis.url)) for _ in range(3)]
    yield redis, nodes
    redis.stop()


def staff(node, name: str):
    client = node.client(name, caps=STAFF_CAPS, sasl=(name, PASSWORDS[name]))
    client.send(f"JOIN {CHAN}")
    client.expect(lambda m: m.command == "366")
    return client


def visitor(node, nick: str, caps=VIEWER_CAPS):
    client = node.client(nick, caps=caps)
    client.send(f"JOIN {CHAN}")
    client.expect(lambda m: m.command == "366")
    return client


def register_when_free(node, nick: str, caps=VIEWER_CAPS, timeout: float = 15.0):
    """A client registered as ``nick``, once the cluster has let go of it
    (433 meanwhile: it is held elsewhere)."""
    deadline = time.monotonic() + timeout
    while True:
        client = node.client()
        client.send("CAP LS 302")
        client.send("CAP REQ :" + " ".join(caps))
        client.send(f"NICK {nick}")
        client.send(f"USER {nick} 0 * :{nick}")
        client.send("CAP END")
        reply = client.expect(lambda m: m.command in ("001", "433"))
        if reply.command == "001":
            client.expect(lambda m: m.command in ("376", "422"))
            client.nick = nick
            return client
        client.close()
        assert time.monotonic() < deadline, f"{nick} still held elsewhere"
        time.sleep(0.5)


def test_a_nick_held_on_one_node_is_refused_on_another_and_free_once_it_quits(cluster) -> None:
    _, (n1, n2, _) = cluster
    marie = visitor(n1, "Marie")
    mod = staff(n2, "modA")
    deadline = time.monotonic() + 10
    while True:  # node 2 lists her once her arrival is read from the log; her nick's claim came before it
        mod.send(f"CONF {CHAN} AUDIENCE")
        listed = []
        while (m := mod.expect(lambda m: m.command == "CONF")).params[1] != "END":
            listed.append(m.params[2])
        if "Marie" in listed:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    other = n2.client()
    other.send("NICK marie")
    assert other.expect(lambda m: m.command in ("001", "433")).command == "433"
    marie.send("QUIT :bye")
    register_when_free(n2, "Marie")


def queued(moderator, text: str):
    """The QUEUE ITEM line a moderator gets for a pending ``text``."""
    return moderator.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[-1] == text
                            and m.params[3] == "pending")


def queue_texts(moderator) -> list[str]:
    """The texts of the undecided items, in queue order (QUEUE LIST)."""
    moderator.send(f"QUEUE {CHAN} LIST")
    texts = []
    while (m := moderator.expect(lambda m: m.command == "QUEUE")).params[1] != "END":
        texts.append(m.params[-1])
    return texts


def published(client, text: str):
    return client.expect(lambda m: m.command == "PRIVMSG" and tuple(m.params) == (CHAN, text))


def note(client, code: str):
    return client.expect(lambda m: m.command == "NOTE" and m.params[1] == code)


def test_a_question_asked_on_one_node_is_moderated_on_another_and_seen_on_all(cluster) -> None:
    _, (n1, n2, n3) = cluster
    mod = staff(n2, "modA")
    citizen = visitor(n1, "citizen")
    viewers = [visitor(n2, "viewer2"), visitor(n3, "viewer3"), visitor(n1, "viewer1")]
    citizen.send(f"PRIVMSG {CHAN} :When will the tram come?")
    note(citizen, "HELD")
    item = queued(mod, "When will the tram come?")
    item_id = item.params[2]
    mod.send(f"QUEUE {CHAN} APPROVE {item_id}")
    msgids = set()
    for viewer in viewers:
        line = published(viewer, "When will the tram come?")
        assert line.source.startswith("citizen!")
        msgids.add(line.tags["msgid"])
    assert len(msgids) == 1  # one publication, the same msgid on every node
    note(citizen, "PUBLISHED")
    # What each node stored answers the same: CHATHISTORY on node 3.
    late = visitor(n3, "late", caps=(*VIEWER_CAPS, "batch", "draft/chathistory"))
    late.send(f"CHATHISTORY LATEST {CHAN} * 10")
    line = late.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == "When will the tram come?")
    assert line.tags["msgid"] in msgids


def test_labeled_commands_get_their_answers_under_the_label_after_the_logs_round_trip(cluster) -> None:
    """The web pages send questions and moderation commands labeled: the
    answer (HELD, the FAIL of a lost race) must carry the label, though
    it comes once the log has the op (core/labels.py)."""
    _, (n1, n2, n3) = cluster
    labeled = ("labeled-response", "batch")
    mod_a = staff(n2, "modA")
    mod_b = n3.client("modB", caps=(*STAFF_CAPS, *labeled), sasl=("modB", PASSWORDS["modB"]))
    mod_b.send(f"JOIN {CHAN}")
    mod_b.expect(lambda m: m.command == "366")
    citizen = visitor(n1, "citizen", caps=(*VIEWER_CAPS, *labeled))
    citizen.send(f"@label=q1 PRIVMSG {CHAN} :Labeled question")
    held = citizen.expect(lambda m: m.tags.get("label") == "q1")
    assert (held.command, held.params[1]) == ("NOTE", "HELD")
    item_id = queued(mod_a, "Labeled question").params[2]
    queued(mod_b, "Labeled question")
    mod_a.send(f"QUEUE {CHAN} APPROVE {item_id}")
    mod_b.send(f"@label=late QUEUE {CHAN} APPROVE {item_id}")
    answer = mod_b.expect(lambda m: m.tags.get("label") == "late")
    if answer.command == "FAIL":  # modA's came first in the log
        assert answer.params[1] == "ALREADY_DECIDED"
    else:  # modB's came first: its answer is the publication, in the label's batch
        assert answer.command == "BATCH" and answer.params[1] == "labeled-response"
        mod_b.expect(lambda m: m.command == "PRIVMSG" and m.tags.get("batch") == answer.params[0][1:])


def test_reorder_drop_redact_and_ban_across_nodes(cluster) -> None:
    _, (n1, n2, n3) = cluster
    mod = staff(n2, "modA")
    other = staff(n3, "modB")
    citizen = visitor(n1, "citizen")
    viewer = visitor(n3, "viewer3")
    texts = ["First question", "Second question", "Rude question"]
    for text in texts:
        citizen.send(f"PRIVMSG {CHAN} :{text}")
        note(citizen, "HELD")
    ids = [queued(mod, t).params[2] for t in texts]
    for t in texts:
        queued(other, t)
    # Move the second to the top: modB on node 3 sees the new order.
    mod.send(f"QUEUE {CHAN} MOVE {ids[1]} top")
    line = other.expect(lambda m: m.command == "QUEUE" and m.params[2] == ids[1])
    assert line.params[4] == "1"  # position 1
    assert queue_texts(other) == [texts[1], texts[0], texts[2]]
    # Drop on node 3, with a reason; the author on node 1 is told.
    other.send(f"QUEUE {CHAN} DROP {ids[2]} :Please stay polite")
    note(citizen, "DECLINED")
    # Approve on node 2, then redact it from node 3: the viewer on node 3 gets both.
    mod.send(f"QUEUE {CHAN} APPROVE {ids[1]}")
    line = published(viewer, "Second question")
    other.send(f"REDACT {CHAN} {line.tags['msgid']} :Asked twice")
    redact = viewer.expect("REDACT")
    assert redact.params[1] == line.tags["msgid"]
    # Ban the citizen (on node 1) from node 2: kicked there, refused on rejoin.
    mod.send(f"CONF {CHAN} BAN citizen 0 :Trolling")
    citizen.expect(lambda m: m.command == "KICK" and m.params[1] == "citizen")
    citizen.send(f"JOIN {CHAN}")
    citizen.expect("474")
    # Back on node 3 under the same nick (free once the first connection
    # quit, everywhere): banned there too (the ban names the nick as well).
    citizen.send("QUIT :bye")
    again = register_when_free(n3, "citizen")
    again.send(f"JOIN {CHAN}")
    again.expect("474")


def test_two_moderators_on_two_nodes_race_on_one_item_and_one_wins(cluster) -> None:
    _, (n1, n2, n3) = cluster
    mod_a, mod_b = staff(n2, "modA"), staff(n3, "modB")
    citizen = visitor(n1, "citizen")
    viewer = visitor(n1, "viewer1")
    for round_ in range(5):
        text = f"Race {round_}"
        citizen.send(f"PRIVMSG {CHAN} :{text}")
        item_id = queued(mod_a, text).params[2]
        queued(mod_b, text)
        mod_a.send(f"QUEUE {CHAN} APPROVE {item_id}")
        mod_b.send(f"QUEUE {CHAN} APPROVE {item_id}")
        published(viewer, text)
        # Both see the publication once; exactly one is told it came too late.
        fails = 0
        for mod in (mod_a, mod_b):
            published(mod, text)
            lines = mod.drain(0.5)
            assert not any(m.command == "PRIVMSG" and m.params[-1] == text for m in lines)
            fails += sum(1 for m in lines if m.command == "FAIL" and m.params[1] == "ALREADY_DECIDED")
        assert fails == 1
        viewer.send("PING :sync")
        viewer.expect(lambda m: m.command == "PONG")
        assert not any(m.command == "PRIVMSG" and m.params[-1] == text for m in viewer.unread)  # at most once


def test_killing_a_node_leaves_the_others_serving_and_its_clients_catch_up(cluster) -> None:
    _, (n1, n2, n3) = cluster
    mod = staff(n2, "modA")
    citizen = visitor(n1, "citizen")
    viewer3 = visitor(n3, "viewer3", caps=(*VIEWER_CAPS, "batch", "draft/chathistory"))
    citizen.send(f"PRIVMSG {CHAN} :Before the crash")
    mod.send(f"QUEUE {CHAN} APPROVE {queued(mod, 'Before the crash').params[2]}")
    seen = published(viewer3, "Before the crash")
    n3.kill()
    citizen.send(f"PRIVMSG {CHAN} :After the crash")
    mod.send(f"QUEUE {CHAN} APPROVE {queued(mod, 'After the crash').params[2]}")
    published(citizen, "After the crash")
    # viewer3 reconnects to node 1 (its nick free once node 3 is forgotten,
    # a few seconds) and asks for what it missed since its last line.
    back = register_when_free(n1, "viewer3", caps=(*VIEWER_CAPS, "batch", "draft/chathistory"))
    back.send(f"JOIN {CHAN}")
    back.expect(lambda m: m.command == "366")
    back.send(f"CHATHISTORY AFTER {CHAN} msgid={seen.tags['msgid']} 10")
    missed = back.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == "After the crash")
    assert missed.tags["msgid"]


def test_redis_restarting_is_told_and_nothing_is_lost(cluster) -> None:
    redis, (n1, n2, n3) = cluster
    mod = staff(n2, "modA")
    citizen = visitor(n1, "citizen")
    viewer = visitor(n3, "viewer3")
    citizen.send(f"PRIVMSG {CHAN} :Kept through the outage")
    note(citizen, "HELD")
    item_id = queued(mod, "Kept through the outage").params[2]
    redis.stop()
    note(mod, "CLUSTER_DOWN")
    mod.send(f"QUEUE {CHAN} APPROVE {item_id}")
    failed = mod.expect(lambda m: m.command == "FAIL")
    assert failed.params[1] == "CLUSTER_UNAVAILABLE"
    citizen.send(f"PRIVMSG {CHAN} :Asked during the outage")
    assert citizen.expect(lambda m: m.command == "FAIL").params[1] == "CLUSTER_UNAVAILABLE"
    redis.start()
    note(mod, "CLUSTER_UP")
    deadline = time.monotonic() + 10
    while True:  # the link may take a moment to write again after reading
        mod.send(f"QUEUE {CHAN} APPROVE {item_id}")
        m = mod.expect(lambda m: m.command == "FAIL" or (m.command == "PRIVMSG" and m.params[-1] == "Kept through the outage"))
        if m.command == "PRIVMSG":
            break
        assert m.params[1] == "CLUSTER_UNAVAILABLE" and time.monotonic() < deadline
        time.sleep(0.2)
    published(viewer, "Kept through the outage")


def test_private_and_staff_only_messages_reach_other_nodes_also_after_redis_restarts(cluster) -> None:
    redis, (n1, n2, n3) = cluster
    mod_a, mod_b, mayor = staff(n2, "modA"), staff(n3, "modB"), staff(n1, "mayor")
    citizen = visitor(n1, "Marie")

    def private(sender, nick: str, text: str):
        """``sender`` writes to ``nick`` privately once its node knows the
        nick (401 until its claim is read from the log): the echo."""
        deadline = time.monotonic() + 10
        while True:
            sender.send(f"PRIVMSG {nick} :{text}")
            m = sender.expect(lambda m: m.command in ("401", "FAIL") or (m.command == "PRIVMSG" and m.params[-1] == text))
            if m.command == "PRIVMSG":
                return m
            assert time.monotonic() < deadline, m
            time.sleep(0.2)

    for rounds in ("before", "after"):
        echo = private(mod_a, "marie", f"Could you shorten your question? ({rounds})")
        got = citizen.expect(lambda m: m.command == "PRIVMSG" and m.params[0] == "Marie")
        assert got.source.startswith("modA!") and got.params[1] == echo.params[1]
        assert got.tags["msgid"] == echo.tags["msgid"]
        citizen.send(f"PRIVMSG modA :Yes, done ({rounds})")  # may answer the moderator who wrote
        assert mod_a.expect(lambda m: m.command == "PRIVMSG" and m.params[0] == "modA").params[1] == f"Yes, done ({rounds})"
        mod_a.send(f"PRIVMSG @{CHAN} :Moderators: item 3 next ({rounds})")
        assert mod_b.expect(lambda m: m.command == "PRIVMSG" and m.params[0] == f"@{CHAN}").params[1] == (
            f"Moderators: item 3 next ({rounds})")
        mod_a.send(f"PRIVMSG +{CHAN} :Mayor: the tram question ({rounds})")
        assert mayor.expect(lambda m: m.command == "PRIVMSG" and m.params[0] == f"+{CHAN}").params[1] == (
            f"Mayor: the tram question ({rounds})")
        if rounds == "before":
            redis.stop()
            note(mod_a, "CLUSTER_DOWN")
            mod_a.send("PRIVMSG marie :lost?")
            assert mod_a.expect(lambda m: m.command == "FAIL").params[1:3] == ("CLUSTER_UNAVAILABLE", "marie")
            redis.start()
            note(mod_a, "CLUSTER_UP")
            deadline = time.monotonic() + 15
            while not (redis.command("PUBSUB", "NUMSUB", "confchat:told")[1] == 3  # every node listening
                       and all(value(metrics_of(n), "confchat_cluster_link_up") == 1 for n in (n1, n2, n3))):
                assert time.monotonic() < deadline, redis.command("PUBSUB", "NUMSUB", "confchat:told")
                time.sleep(0.2)
    citizen.send("PRIVMSG modB :and you?")  # modB never wrote to her
    assert citizen.expect(lambda m: m.command in ("531", "PRIVMSG")).command == "531"
    # modA's node told 3 messages a round and modA's sign-in (its password
    # check, then that it was right: the others' back-off), and refused the
    # message during the outage.
    body = metrics_of(n2)
    assert value(body, 'confchat_cluster_ops_total{result="told"}') == 3 * 2 + 2
    assert value(body, 'confchat_cluster_ops_total{result="refused"}') >= 1


def test_an_address_spread_over_two_nodes_gets_one_connection_limit(start_server, tmp_path) -> None:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        settings = {**config(redis.url), "limits": {"flood_burst": 1000, "max_connections_per_ip": 4}}
        n1, n2 = start_server(settings), start_server(settings)
        held = [n1.client(f"v{i}") for i in range(3)]  # registered: they are counted
        deadline = time.monotonic() + 15
        while True:  # node 2 hears of them with node 1's next heartbeat (every 2 s)
            fourth, fifth = n2.client(), n2.client()
            replies = []
            for probe in (fourth, fifth):
                probe.send("PING :x")
                replies.append(probe.expect(lambda m: m.command in ("PONG", "ERROR"), timeout=5).command)
            fourth.close(), fifth.close()
            if replies == ["PONG", "ERROR"]:  # the 5th of 127.0.0.1 refused, though node 2 had 1
                break
            assert replies == ["PONG", "PONG"], replies  # not heard of yet: the limit is node 2's own
            assert time.monotonic() < deadline, "node 2 never counted node 1's connections"
            time.sleep(0.5)
        assert "Too many connections" in fifth.received[-1].params[-1]
        for client in held:
            client.close()
    finally:
        redis.stop()


def metrics_of(node) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/metrics", timeout=10) as response:
        return response.read().decode()


def value(body: str, series: str) -> float:
    for line in body.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not in the metrics")


def test_the_audience_is_counted_across_nodes_and_each_node_has_its_metrics(cluster) -> None:
    import shutil
    import subprocess

    _, (n1, n2, n3) = cluster
    mod = staff(n1, "modA")
    viewers = [visitor(n2, "viewer2a"), visitor(n2, "viewer2b"), visitor(n3, "viewer3")]
    citizen = visitor(n1, "citizen")
    citizen.send(f"PRIVMSG {CHAN} :Counted where it came in")
    mod.send(f"QUEUE {CHAN} APPROVE {queued(mod, 'Counted where it came in').params[2]}")
    for viewer in viewers:
        published(viewer, "Counted where it came in")
    deadline = time.monotonic() + 15
    while True:  # the other nodes' visitors arrive through the log
        mod.send(f"CONF {CHAN} INFO")
        audience = mod.expect(lambda m: m.command == "CONF" and m.params[1:3] == ("INFO", "audience")).params[3]
        if audience == "4" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert audience == "4"  # citizen on node 1, two on node 2, one on node 3
    deadline = time.monotonic() + 10
    while value(metrics_of(n1), "confchat_cluster_nodes") < 3 and time.monotonic() < deadline:
        time.sleep(0.5)  # the node count follows the heartbeats (every 2 s)
    body1, body2 = metrics_of(n1), metrics_of(n2)
    assert value(body1, "confchat_cluster_nodes") == 3
    assert value(body1, "confchat_cluster_link_up") == 1
    assert value(body1, f'confchat_cluster_audience{{conference="{CHAN}"}}') == 4
    assert value(body1, f'confchat_audience{{conference="{CHAN}",role="visitor"}}') == 1  # this node's own
    # The question came in on node 1 and was decided there: counted there once.
    assert value(body1, f'confchat_messages_total{{conference="{CHAN}",decider="none",outcome="submitted"}}') == 1
    assert f'confchat_messages_total{{conference="{CHAN}",decider="none",outcome="submitted"}}' not in body2
    assert value(body2, 'confchat_cluster_entries_total{origin="remote"}') >= 2
    for node in (n1, n2, n3):  # nothing refused in a healthy cluster, the last node to join included
        assert value(metrics_of(node), 'confchat_cluster_ops_total{result="refused"}') == 0
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (scripts/install-test-deps installs it)")
    check = subprocess.run([promtool, "check", "metrics"], input=body1.encode(), capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_every_question_acknowledged_by_a_node_killed_at_once_is_kept_by_the_others(cluster) -> None:
    _, (n1, n2, n3) = cluster
    citizens = [visitor(n1, f"asker{i}") for i in range(4)]
    sent = []
    for round_ in range(5):
        for i, citizen in enumerate(citizens):
            text = f"Question {round_}-{i}"
            citizen.send(f"PRIVMSG {CHAN} :{text}")
            sent.append((citizen, text))
    acknowledged = set()
    for citizen, text in sent:
        note(citizen, "HELD")
        acknowledged.add(text)
    n1.kill()  # SIGKILL, right after the acknowledgements
    mod = staff(n2, "modA")
    listed = set(queue_texts(mod))
    assert acknowledged <= listed and len(acknowledged) == 20
    # Node 1 comes back on its own database and the log: the same queue.
    again = n1.__class__(n1.args, n1.workdir)
    try:
        assert set(queue_texts(staff(again, "modB"))) == listed
    finally:
        again.stop()


def test_a_download_link_made_on_one_node_works_once_on_any(cluster) -> None:
    import urllib.error
    import urllib.request

    _, (n1, n2, n3) = cluster
    mod = staff(n1, "modA")
    mod.send(f"CONF {CHAN} EXPORT json")
    link = mod.expect(lambda m: m.command == "CONF" and m.params[1] == "EXPORT").params[4]
    deadline = time.monotonic() + 10
    while True:  # the link travels through the log to the other nodes; unknown there until then
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{n2.http_port}{link}", timeout=10) as response:
                assert response.status == 200 and b"townhall" in response.read()
                break
        except urllib.error.HTTPError as not_yet:
            assert not_yet.code == 404 and time.monotonic() < deadline
            time.sleep(0.1)
    for node in (n3, n1):  # used: refused everywhere, its own node included
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}{link}", timeout=10)
        assert refused.value.code == 404


def test_a_sentinel_failover_is_followed_by_every_node(start_server, tmp_path) -> None:
    """Redis Sentinel: the primary dies, the sentinel promotes the replica,
    the nodes find it by themselves; the staff are told, what was logged
    before is kept, and moderation goes on."""
    from redis_server import SentinelServer

    primary = RedisServer(tmp_path / "primary").start()
    replica = RedisServer(tmp_path / "replica", extra=("--replicaof", "127.0.0.1", str(primary.port))).start()
    sentinel = SentinelServer(tmp_path, primary)
    try:
        sentinel.wait_for_replicas(1)
        settings = config("")
        settings["cluster"] = {"sentinels": [f"127.0.0.1:{sentinel.port}"], "sentinel_master": "confchat"}
        n1, n2 = start_server(settings), start_server(settings)
        mod = staff(n2, "modA")
        citizen = visitor(n1, "citizen")
        viewer = visitor(n2, "viewer")
        citizen.send(f"PRIVMSG {CHAN} :Before the failover")
        first = queued(mod, "Before the failover").params[2]
        deadline = time.monotonic() + 10
        while replica.command("XLEN", "confchat:log") < 1:  # replicated (asynchronously) to the replica
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        primary.kill()
        note(mod, "CLUSTER_DOWN")
        note(mod, "CLUSTER_UP")  # the sentinel promoted the replica; the nodes found it
        assert sentinel.primary() == replica.port
        deadline = time.monotonic() + 15
        while True:
            mod.send(f"QUEUE {CHAN} APPROVE {first}")
            m = mod.expect(lambda m: m.command == "FAIL" or (m.command == "PRIVMSG" and m.params[-1] == "Before the failover"))
            if m.command == "PRIVMSG":
                break
            assert m.params[1] == "CLUSTER_UNAVAILABLE" and time.monotonic() < deadline, m
            time.sleep(0.3)
        published(viewer, "Before the failover")
        citizen.send(f"PRIVMSG {CHAN} :After the failover")
        queued(mod, "After the failover")
    finally:
        sentinel.stop()
        replica.stop()
        primary.stop()


def test_a_node_started_before_redis_waits_for_it_and_says_so(start_server, tmp_path) -> None:
    import threading

    redis = RedisServer(tmp_path / "late")  # not started yet
    started = {}
    thread = threading.Thread(target=lambda: started.setdefault("node", start_server(config(redis.url))))
    thread.start()
    try:
        time.sleep(2)
        assert "node" not in started  # nothing listens without the log
        redis.start()
        thread.join(30)
        node = started["node"]
        assert "cluster.unreachable" in node.log
        visitor(node, "early")
    finally:
        thread.join(30)
        redis.stop()


def test_a_node_away_longer_than_the_log_is_kept_refuses_to_start_until_given_a_peers_database(
        start_server, tmp_path) -> None:
    import sqlite3

    redis = RedisServer(tmp_path / "short").start()
    try:
        settings = config(redis.url)
        settings["cluster"]["log_retention"] = 1  # seconds: the log is cut behind the running nodes at once
        n1, n2 = start_server(settings), start_server(settings)
        n2.stop()
        citizen = visitor(n1, "citizen")
        mod = staff(n1, "modA")
        citizen.send(f"PRIVMSG {CHAN} :Asked while node 2 was away")
        queued(mod, "Asked while node 2 was away")
        deadline = time.monotonic() + 20
        while True:
            info = redis.command("XINFO", "STREAM", "confchat:log")
            fields = {(k.decode() if isinstance(k, bytes) else k): v for k, v in zip(info[::2], info[1::2])}
            if fields["entries-added"] > fields["length"]:
                break  # node 1's heartbeat cut the log
            assert time.monotonic() < deadline
            time.sleep(0.5)
        with pytest.raises(RuntimeError) as refused:
            n2.__class__(n2.args, n2.workdir)
        assert "copy a running node's database" in str(refused.value)
        # The fix it names: a copy of node 1's database (SQLite's online backup).
        ours = n2.workdir / "data" / "confchat.sqlite3"
        for leftover in ours.parent.glob("confchat.sqlite3*"):
            leftover.unlink()
        source = sqlite3.connect(n1.workdir / "data" / "confchat.sqlite3")
        target = sqlite3.connect(ours)
        source.backup(target)
        source.close()
        target.close()
        back = n2.__class__(n2.args, n2.workdir)
        try:
            assert queue_texts(staff(back, "modB")) == ["Asked while node 2 was away"]
        finally:
            back.stop()
    finally:
        redis.stop()
