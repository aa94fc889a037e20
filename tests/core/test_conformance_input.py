"""Conformance: bad input at registration and after (USER, UTF8ONLY) and the
LUSERS figures, as the specs and the public conformance suite expect them."""

from __future__ import annotations

from helpers import Net, commands, find, one


def lusers(conn) -> dict[str, tuple[str, ...]]:
    replies = conn.ask("LUSERS")
    return {m.command: m.params for m in replies}


def figures(conn) -> tuple[int, int, int, int, int]:
    """(visible, invisible, operators, unregistered, local users) from LUSERS."""
    got = lusers(conn)
    words = got["251"][1].split()
    return int(words[2]), int(words[5]), int(got["252"][1]), int(got["253"][1]), int(got["265"][1])


# ---------------------------------------------------------------- USER


def test_user_with_an_empty_realname_is_refused():
    """Modern IRC, USER message: "If a client tries to register with a
    <realname> [...] that is empty [...], the server SHOULD reply with
    ERR_NEEDMOREPARAMS (461)"; the client is not registered by it."""
    net = Net()
    conn = net.connect()
    conn.send("NICK alice")
    replies = conn.ask("USER alice 0 * :")
    refusal = one(replies, "461")
    assert refusal.params[1] == "USER"
    assert not conn.client.registered
    # Nothing is lost: a proper USER afterwards registers the client.
    assert "001" in commands(conn.ask("USER alice 0 * :Alice"))


def test_a_non_utf8_realname_or_username_is_answered_with_fail():
    """IRCv3 UTF8ONLY: "If a client sends a message that is not valid
    UTF-8, the server SHOULD [...] send a FAIL <command> INVALID_UTF8"; the
    conformance suite accepts registration, FAIL, ERROR or 468, but never
    silence. A client without standard-replies is told just the same."""
    for line in (b"USER alice 0 * :Al\xe9", b"USER al\xe9 0 * :Alice"):
        net = Net()
        conn = net.connect()
        conn.send("NICK alice")
        replies = conn.ask(line)
        fail = one(replies, "FAIL")
        assert fail.params[:2] == ("USER", "INVALID_UTF8")
        assert not conn.closed
        assert "001" in commands(conn.ask("USER alice 0 * :Alice"))


def test_invalid_utf8_is_a_fail_line_without_standard_replies():
    """IRCv3 UTF8ONLY: the server "SHOULD send a FAIL <command>
    INVALID_UTF8"; the spec's reply is the FAIL line itself, not the NOTICE
    other standard replies become without the capability."""
    net = Net()
    alice = net.register("alice")
    replies = alice.ask(b"PRIVMSG alice :caf\xe9")
    assert find(replies, "NOTICE") == []
    assert one(replies, "FAIL").params[:2] == ("PRIVMSG", "INVALID_UTF8")
    assert not alice.closed


# ---------------------------------------------------------------- LUSERS


def test_lusers_counts_unregistered_connections_at_once():
    """RFC 2812 3.4.2 / Modern IRC RPL_LUSERUNKNOWN (253): "the number of
    connections that are not yet registered"; irctest's
    LusersUnregisteredTestCase checks the figure after each change."""
    net = Net()
    bar = net.register("bar")
    assert figures(bar)[3:] == (0, 1)
    qux = net.connect()
    qux.send("NICK qux")
    bat = net.connect()
    bat.send("NICK bat")
    assert figures(bar)[3:] == (2, 1)
    qux.send("USER u s e :r")
    assert qux.client.registered
    assert figures(bar)[3:] == (1, 2)  # the very same second: no stale count
    bat.send("QUIT")
    assert figures(bar)[3:] == (0, 2)


def test_lusers_counts_invisible_users_and_operators():
    """RFC 2812 5.1 RPL_LUSERCLIENT (251) "There are <integer> users and
    <integer> invisible on <integer> servers": visible plus invisible is
    every registered user; RPL_LUSEROP (252) counts operators."""
    net = Net()
    bar = net.register("bar")
    qux = net.register("qux")
    assert figures(bar)[:3] == (2, 0, 0)
    qux.send("MODE qux +i")
    assert figures(bar)[:3] == (1, 1, 0)
    bar.send("MODE bar +i")
    qux.send("MODE qux -i")
    assert figures(bar)[:3] == (1, 1, 0)
    qux.send("QUIT")
    assert figures(bar)[:3] == (0, 1, 0)


def test_lusers_local_users_give_the_current_and_the_highest_count():
    """Modern IRC RPL_LOCALUSERS (265) "<client> [<u> <m>] :Current local
    users <u>, max <m>": m is the most users seen at once."""
    net = Net()
    bar = net.register("bar")
    qux = net.register("qux")
    qux.send("QUIT")
    got = lusers(bar)
    assert got["265"][1:3] == ("1", "2")
    assert got["266"][1:3] == ("1", "2")
    assert got["255"][1].startswith("I have 1 clients")


def test_operators_are_counted_until_they_drop_the_mode():
    """RFC 2812 5.1 RPL_LUSEROP (252) "<integer> :operator(s) online"; an
    operator's MODE -o or its QUIT takes it out of the count."""
    import attrs

    from confchat.config import Config, Oper
    from test_conference import HASH, PASSWORD

    net = Net(attrs.evolve(Config(), opers=(Oper("root", HASH),)))
    bar = net.register("bar")
    qux = net.register("qux")
    bar.send(f"OPER root :{PASSWORD}")
    qux.send(f"OPER root :{PASSWORD}")
    assert figures(bar)[2] == 2
    bar.send("MODE bar -o")
    assert figures(bar)[2] == 1
    qux.send("QUIT")
    assert figures(bar)[2] == 0
