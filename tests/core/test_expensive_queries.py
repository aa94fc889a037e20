"""No visitor command costs time proportional to the whole audience: a
visitor's WHO with a mask looks only at the people it shares a channel with,
and expensive queries cost more flood tokens (fakelag)."""

from __future__ import annotations

import attrs

from confchat.core.handlers import queries
from helpers import Net, find
from test_conference import CAPS, CHAN, login, make_config


def test_a_visitors_who_mask_does_not_walk_the_audience(monkeypatch):
    net = Net(make_config())
    moda = login(net, "moda")
    moda.send(f"JOIN {CHAN}")
    for i in range(2000):
        visitor = net.register(f"v{i}", ip=f"198.18.{i // 250}.{i % 250 + 1}")
        visitor.send(f"JOIN {CHAN}")
    troll = net.register("troll", ip="203.0.113.66")
    troll.send(f"JOIN {CHAN}")
    calls = []
    real = queries.mask_match
    monkeypatch.setattr(queries, "mask_match", lambda mask, text: calls.append(text) or real(mask, text))
    replies = troll.ask("WHO *zzz*")
    assert find(replies, "315")
    assert len(calls) <= 3 * 3  # itself and the staff it shares the auditorium with, nick/prefix/realname
    shown = troll.ask("WHO v1*")
    assert find(shown, "352") == []  # visitors do not enumerate the audience
    calls.clear()
    assert len(find(moda.ask("WHO v1*"), "352")) == 1111  # staff search everyone: v1, v1x, v1xx, v1xxx
    assert len(calls) > 2000


def test_expensive_queries_slow_their_sender_down():
    net = Net(attrs.evolve(make_config(), limits=attrs.evolve(make_config().limits, flood_burst=20, flood_rate=5.0)))
    visitor = net.register("visitor", CAPS, ip="203.0.113.5")
    other = net.register("other", CAPS, ip="203.0.113.6")
    delays = [visitor.send("WHO *zzz*") for _ in range(6)]
    assert delays[:4] == [0.0] * 4 and delays[-1] > 0  # 4 tokens each: the burst is spent by the fifth
    cheap = [other.send("PING x") for _ in range(6)]
    assert cheap == [0.0] * 6  # one token a line: six lines are well within the burst


def test_joins_and_votes_are_rate_limited():
    net = Net(attrs.evolve(make_config(), limits=attrs.evolve(make_config().limits, flood_burst=20, flood_rate=5.0)))
    cycler = net.register("cycler", CAPS, ip="203.0.113.7")
    delays = []
    for _ in range(6):
        delays.append(cycler.send(f"JOIN {CHAN}"))
        delays.append(cycler.send(f"PART {CHAN}"))
    # 2 tokens each: with what registration took, the burst of 20 is spent before twelve
    assert delays[:6] == [0.0] * 6 and delays[-1] > 0
