"""Late joiners see the recent published exchange (join backlog)."""

from __future__ import annotations

import attrs

from confchat.config import Config, ConferenceConfig
from helpers import Net, find

CHAN = "#live"


def make_net(backlog: int = 3) -> Net:
    config = attrs.evolve(
        Config(),
        conferences=(ConferenceConfig(channel=CHAN, title="Live", state="live", mode="open"),),
        history=attrs.evolve(Config().history, join_backlog=backlog),
    )
    return Net(config)


def say(net: Net, nick: str, texts: list[str]) -> None:
    speaker = net.register(nick, ip="192.0.2.50")
    speaker.send(f"JOIN {CHAN}")
    for text in texts:
        net.advance(60)
        speaker.send(f"PRIVMSG {CHAN} :{text}")


def test_joiner_gets_the_last_messages_in_a_batch_with_their_time():
    net = make_net(backlog=3)
    say(net, "early", ["one", "two", "three", "four"])
    net.advance(600)
    late = net.register("late", ("batch", "server-time", "message-tags"))
    got = late.ask(f"JOIN {CHAN}")
    start, *messages, end = [m for m in got if m.command in ("BATCH", "PRIVMSG")]
    assert start.params[1:] == ("chathistory", CHAN)
    assert end.params == ("-" + start.params[0][1:],)
    assert [m.params[1] for m in messages] == ["two", "three", "four"]
    assert all(m.tags["batch"] == start.params[0][1:] for m in messages)
    assert [m.tags["time"][11:16] for m in messages] == ["22:15", "22:16", "22:17"]
    assert all(m.source.startswith("early!") and "msgid" in m.tags for m in messages)


def test_deleted_messages_are_not_replayed():
    net = make_net(backlog=10)
    admin_conf = net.server.conferences[CHAN]
    say(net, "early", ["keep", "remove me"])
    msgid = list(admin_conf.published)[-1]
    admin_conf.remove_publication(msgid, net.wall(), "test")
    late = net.register("late", ("batch",))
    assert [m.params[1] for m in find(late.ask(f"JOIN {CHAN}"), "PRIVMSG")] == ["keep"]


def test_clients_without_batch_get_plain_lines():
    net = make_net()
    say(net, "early", ["hello"])
    late = net.register("late")
    got = late.ask(f"JOIN {CHAN}")
    assert find(got, "BATCH") == []
    assert [m.params[1] for m in find(got, "PRIVMSG")] == ["hello"]


def test_backlog_zero_replays_nothing():
    net = make_net(backlog=0)
    say(net, "early", ["hello"])
    late = net.register("late", ("batch",))
    assert find(late.ask(f"JOIN {CHAN}"), "PRIVMSG") == []


def test_a_labeled_join_nests_the_history_batch():
    net = make_net()
    say(net, "early", ["hello"])
    late = net.register("late", ("batch", "labeled-response", "message-tags"))
    got = late.ask(f"@label=j1 JOIN {CHAN}")
    outer = got[0]
    assert outer.command == "BATCH" and outer.params[1] == "labeled-response"
    outer_ref = outer.params[0][1:]
    inner = [m for m in got if m.command == "BATCH" and m.params[0].startswith("+") and m is not outer][0]
    assert inner.params[1] == "chathistory" and inner.tags["batch"] == outer_ref
    (line,) = find(got, "PRIVMSG")
    assert line.tags["batch"] == inner.params[0][1:]


def test_a_message_replayed_to_a_late_joiner_has_the_time_it_was_delivered_with():
    """server-time: the live line and its replay carry one time, even when the
    wall clock moves between two readings (as it does for real)."""
    net = make_net()
    ticking = net.wall

    def reading() -> float:  # every reading of the clock is 0.7 ms later
        ticking.advance(0.0007)
        return ticking.now

    net.server.wallclock = net.server.engine.wallclock = reading
    viewer = net.register("viewer", ("server-time", "message-tags"), ip="192.0.2.60")
    viewer.send(f"JOIN {CHAN}")
    viewer.take()
    say(net, "speaker", ["first", "second"])
    live = {m.params[1]: m.tags["time"] for m in find(viewer.take(), "PRIVMSG")}
    late = net.register("late", ("server-time", "message-tags"), ip="192.0.2.61")
    replayed = {m.params[1]: m.tags["time"] for m in find(late.ask(f"JOIN {CHAN}"), "PRIVMSG")}
    assert replayed == live and len(live) == 2
