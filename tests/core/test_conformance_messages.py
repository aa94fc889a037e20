"""Conformance: messages and what rides on them (labeled-response with
echo-message, REDACT in plain channels, bot mode, account-tag,
account-notify, MONITOR and extended-monitor), checked against the specs."""

from __future__ import annotations

from helpers import Net, commands, find, one
from test_conference import CHAN, login, make_config

LABELED = ["echo-message", "batch", "labeled-response", "message-tags"]
REDACTING = ["message-tags", "echo-message", "draft/message-redaction"]


# ---------------------------------------------------------------- labeled-response + echo-message


def test_a_labeled_message_to_oneself_comes_back_twice_once_labeled():
    """IRCv3 labeled-response with echo-message: a PRIVMSG to oneself is
    received as the recipient and echoed; "the echoed message" is the
    labeled response (irctest testLabeledPrivmsgResponsesToSelf: two
    messages, exactly one with the label)."""
    for command, tail in (("PRIVMSG", " :hi"), ("NOTICE", " :hi"), ("TAGMSG", "")):
        net = Net()
        foo = net.register("foo", LABELED)
        replies = foo.ask(f"@label=12345;+draft/react=x {command} foo{tail}")
        assert commands(replies) == [command, command], replies
        labels = [m.tags.get("label") for m in replies]
        assert sorted(labels, key=str) == ["12345", None]
        assert replies[0].tags["msgid"] == replies[1].tags["msgid"]


def test_a_labeled_message_to_oneself_without_echo_is_the_labeled_reply():
    """IRCv3 labeled-response: without echo-message the one copy the sender
    receives is the response to its labeled command, so it carries the label."""
    net = Net()
    foo = net.register("foo", ["batch", "labeled-response", "message-tags"])
    replies = foo.ask("@label=7 PRIVMSG foo :hi")
    assert [(m.command, m.tags.get("label")) for m in replies] == [("PRIVMSG", "7")]


# ---------------------------------------------------------------- REDACT in plain channels


def redact_room(net: Net):
    chanop = net.register("chanop", REDACTING)
    chanop.send("JOIN #chan")
    user = net.register("user", REDACTING)
    user.send("JOIN #chan")
    plain = net.register("plain")  # without the capability
    plain.send("JOIN #chan")
    for c in (chanop, user, plain):
        c.take()
    return chanop, user, plain


def sent_msgid(sender, line: str) -> str:
    return one(sender.ask(line), line.split()[0] if not line.startswith("@") else line.split()[1]).tags["msgid"]


def test_a_channel_operator_redacts_anyones_message_and_users_their_own():
    """IRCv3 draft/message-redaction: "REDACT <target> <msgid> [:<reason>]
    [...] The server MUST forward it to [the target's] clients that
    negotiated the capability"; irctest testRelayOpRedact and
    testRelayUserSelfRedact (which a server may accept): the REDACT reaches
    the sender of the REDACT and the other members with the capability."""
    net = Net()
    chanop, user, plain = redact_room(net)
    msgid = sent_msgid(user, "PRIVMSG #chan :spam")
    chanop.take()
    redact = one(chanop.ask(f"REDACT #chan {msgid} :spam"), "REDACT")
    assert redact.source.startswith("chanop!") and redact.params == ("#chan", msgid, "spam")
    assert one(user.take(), "REDACT").params == ("#chan", msgid, "spam")
    assert find(plain.take(), "REDACT") == []
    mine = sent_msgid(user, "TAGMSG #chan")
    chanop.take()
    assert one(user.ask(f"REDACT #chan {mine} :oops"), "REDACT").source.startswith("user!")
    assert one(chanop.take(), "REDACT").params == ("#chan", mine, "oops")


def test_redacting_anothers_message_unknown_or_elsewhere_is_a_fail():
    """IRCv3 draft/message-redaction errors: "FAIL REDACT REDACT_FORBIDDEN
    <target> <msgid>", "FAIL REDACT UNKNOWN_MSGID <target> <msgid>", "FAIL
    REDACT INVALID_TARGET <target>" (irctest testRejectRedactOtherUser,
    testOpRedactNonExistant, testOpRedactWrongChan); FAIL lines even for a
    client without standard-replies, and nobody else hears of them."""
    net = Net()
    chanop, user, plain = redact_room(net)
    msgid = sent_msgid(chanop, "PRIVMSG #chan :mine")
    user.take()
    fail = one(user.ask(f"REDACT #chan {msgid} :oops"), "FAIL")
    assert fail.params[:4] == ("REDACT", "REDACT_FORBIDDEN", "#chan", msgid)
    fail = one(chanop.ask("REDACT #chan 123e4567 :oops"), "FAIL")
    assert fail.params[:4] == ("REDACT", "UNKNOWN_MSGID", "#chan", "123e4567")
    chanop.send("JOIN #other")
    fail = one(chanop.ask(f"REDACT #other {msgid} :oops"), "FAIL")
    assert fail.params[:4] == ("REDACT", "UNKNOWN_MSGID", "#other", msgid)
    assert one(chanop.ask(f"REDACT #nowhere {msgid}"), "FAIL").params[:3] == ("REDACT", "INVALID_TARGET", "#nowhere")
    assert one(chanop.ask(f"REDACT user {msgid}"), "FAIL").params[:3] == ("REDACT", "INVALID_TARGET", "user")
    assert find(user.take(), "REDACT") == [] and find(plain.take(), "REDACT") == []
    # the message is still there: its author may delete it
    assert one(chanop.ask(f"REDACT #chan {msgid}"), "REDACT")
    assert one(chanop.ask(f"REDACT #chan {msgid}"), "FAIL").params[1] == "UNKNOWN_MSGID"  # once


def test_conference_redact_errors_are_fail_lines_too():
    """IRCv3 draft/message-redaction: the errors are FAIL lines; in a
    conference the moderation extension's rules decide who may delete
    (protocol.md, REDACT), and a client without standard-replies still
    gets the FAIL."""
    net = Net(make_config())
    moda = login(net, "moda", caps=("message-tags", "draft/message-redaction"))
    moda.send(f"JOIN {CHAN}")
    fail = one(moda.ask(f"REDACT {CHAN} nope"), "FAIL")
    assert fail.params[:4] == ("REDACT", "UNKNOWN_MSGID", CHAN, "nope")
    visitor = net.register("visitor", ["draft/message-redaction"])
    visitor.send(f"JOIN {CHAN}")
    assert one(visitor.ask(f"REDACT {CHAN} nope"), "FAIL").params[:2] == ("REDACT", "NEED_ROLE")


# ---------------------------------------------------------------- bot mode


def test_bot_mode_is_advertised_tagged_and_shown():
    """IRCv3 bot mode: "ISUPPORT BOT=<mode>", the user mode marks a bot;
    "the server SHOULD add the bot tag to messages" it sends, "RPL_WHOISBOT
    (335)" in WHOIS and the mode character in the WHO flags."""
    net = Net()
    assert "BOT=B" in net.server.isupport
    bot = net.register("bot")
    human = net.register("human", ["message-tags"])
    bare = net.register("bare")
    assert one(bot.ask("MODE bot +B"), "MODE").params == ("bot", "+B")
    for c in (bot, human, bare):
        c.send("JOIN #room")
        c.take()
    bot.send("PRIVMSG #room :beep")
    assert one(human.take(), "PRIVMSG").tags.get("bot") == ""
    assert "bot" not in one(bare.take(), "PRIVMSG").tags
    assert one(human.ask("WHOIS bot"), "335").params[1] == "bot"
    assert "B" in one(human.ask("WHO bot"), "352").params[6]
    bot.send("MODE bot -B")
    human.take()
    bot.send("PRIVMSG #room :human now")
    assert "bot" not in one(human.take(), "PRIVMSG").tags
    assert find(human.ask("WHOIS bot"), "335") == []


# ---------------------------------------------------------------- account-tag, account-notify


def test_account_tag_names_the_senders_account_to_those_who_asked():
    """IRCv3 account-tag: "the server MUST add the account tag to messages
    sent by that user [...] containing the account name"; only to clients
    that negotiated account-tag, and never for a user not logged in."""
    net = Net(make_config())
    moda = login(net, "moda")
    tagged = net.register("tagged", ["account-tag"])
    untagged = net.register("untagged", ["message-tags"])
    visitor = net.register("visitor")
    for c in (moda, tagged, untagged, visitor):
        c.send("JOIN #room")
        c.take()
    moda.send("PRIVMSG #room :from staff")
    assert one(tagged.take(), "PRIVMSG").tags == {"account": "moda"}
    assert "account" not in one(untagged.take(), "PRIVMSG").tags
    visitor.send("PRIVMSG #room :anonymous")
    assert "account" not in one(tagged.take(), "PRIVMSG").tags
    moda.send("NOTICE tagged :direct")
    assert one(tagged.take(), "NOTICE").tags == {"account": "moda"}
    assert one(tagged.ask("WHOIS moda"), "330").params[1:3] == ("moda", "moda")


def test_account_notify_tells_channel_peers_of_a_login():
    """IRCv3 account-notify: "the server MUST send [ACCOUNT <accountname>]
    to clients that have negotiated account-notify [and share a channel]
    when a user's account changes" (here: a login after registration)."""
    import base64

    from test_conference import PASSWORD

    net = Net(make_config())
    watcher = net.register("watcher", ["account-notify"])
    other = net.register("other")
    late = net.register("late", ["sasl"])
    for c in (watcher, other, late):
        c.send("JOIN #room")
        c.take()
    late.send("AUTHENTICATE PLAIN")
    late.send("AUTHENTICATE " + base64.b64encode(f"moda\0moda\0{PASSWORD}".encode()).decode())
    assert "903" in commands(late.take())
    account = one(watcher.take(), "ACCOUNT")
    assert account.source.startswith("late!") and account.params == ("moda",)
    assert find(other.take(), "ACCOUNT") == []


# ---------------------------------------------------------------- MONITOR, extended-monitor


def test_a_change_of_case_alone_tells_monitor_nothing():
    """IRCv3 MONITOR: RPL_MONONLINE (730) when "a nick on the list comes
    online"; a nick whose case alone changes is the same nick under the
    case mapping, online all along, so watchers get neither 731 nor 730."""
    net = Net()
    watcher = net.register("watcher")
    net.register("alice").send("NICK Alice")
    watcher.ask("MONITOR + alice")
    alice = net.server.find_nick("alice")
    net.server.receive(alice, b"NICK ALICE")
    assert watcher.take() == []
    net.server.receive(alice, b"NICK bob")
    assert commands(watcher.take()) == ["731"]


def test_extended_monitor_carries_away_and_setname_of_monitored_nicks():
    """IRCv3 extended-monitor: "clients that have negotiated
    extended-monitor [...] MUST also receive [away-notify, account-notify,
    setname] notifications for the users they are monitoring", without
    sharing a channel; a watcher without extended-monitor does not."""
    net = Net()
    extended = net.register("extended", ["extended-monitor", "away-notify", "setname"])
    plain = net.register("plain", ["away-notify", "setname"])
    target = net.register("target", ["setname"])
    extended.ask("MONITOR + target")
    plain.ask("MONITOR + target")
    target.send("AWAY :lunch")
    target.send("SETNAME :New Name")
    assert commands(extended.take()) == ["AWAY", "SETNAME"]
    assert plain.take() == []
