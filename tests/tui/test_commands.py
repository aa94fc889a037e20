"""The : command line, against the server core: administration and settings
as the /admin page does them, and clear errors for bad input."""

from __future__ import annotations

import pytest

from pair import CHANNEL, Pair, ShellNet, config
from confchat.tui import commands
from confchat.tui.session import ActionError


@pytest.fixture
def boss():
    return Pair(ShellNet(config()), "boss", ip="198.51.100.30").connect()


def run(pair, text):
    pair.pump(commands.run(pair.session, text))
    return [line.text for line in pair.view.log]


def test_settings_and_state(boss):
    run(boss, ":slow 30")
    run(boss, ':set title "The tram, at last"')
    run(boss, ":state closed")
    assert boss.view.info["slow_mode"] == "30" and boss.view.info["state"] == "closed"
    assert f"CONF {CHANNEL} SET title :The tram, at last" in boss.sent


def test_accounts_roles_and_conferences(boss):
    log = run(boss, ":accounts create eve staff a long password")
    assert "ACCOUNTS CREATED: Account eve created" in log
    assert "ACCOUNTS CREATE eve staff :a long password" in boss.sent
    log = run(boss, ":role eve guest")
    assert "CONF ROLE: eve is now guest in #townhall" in log
    log = run(boss, ":roles")
    assert "CONF #townhall GRANT eve guest" in log
    log = run(boss, ":conf create #budget The city budget")
    assert "CONF CREATED: Conference #budget created" in log
    log = run(boss, ":conf list")
    assert any(line.startswith("CONF * LIST #budget scheduled moderated") for line in log)
    log = run(boss, ":export md internal")
    assert any(line.startswith("CONF #townhall EXPORT md internal /export/") for line in log)
    assert commands.is_secret(":accounts passwd eve secret words") and not commands.is_secret(":roles")


def test_bad_input_is_refused_with_a_clear_word(boss):
    for text, words in [(":frobnicate", "Unknown command :frobnicate"), (":move 3", "Usage: :move"),
                        (":approve 3,x", "'3,x' is not a list of item ids"), (":", "Type a command")]:
        with pytest.raises(ActionError, match=words.replace("(", r"\(")):
            commands.run(boss.session, text)
    log = run(boss, ":approve 99")
    assert "QUEUE NO_SUCH_ITEM: There is no item 99" in log


def test_every_command_is_in_the_help():
    from confchat.tui.app import help_sections

    keys = [key for _, section in help_sections() for key, _ in section]
    assert {"a", "x", "e", "f", "n", "h", "c", "u", "d", "t", "b", "space", "asterisk"} <= set(keys)
    assert all(command.usage.startswith(":") and command.help for command in commands.COMMANDS.values())
