"""The terminal client's moderator view, headless (Textual's pilot), against
the real server over TCP: key presses approve, reorder, edit, forward and
drop items while a plain TCP viewer checks exactly what it receives."""

from __future__ import annotations

import pytest

from accounts import CHANNEL, CONFIG, PASSWORDS, VIEWER_CAPS, ask, visitor
from conftest import in_thread, until
from confchat.tui.app import ConfchatApp
from confchat.tui.lines import State
from confchat.tui.session import Session

pytestmark = pytest.mark.anyio


def make_app(server, account="moda", **kwargs) -> ConfchatApp:
    session = Session(account, PASSWORDS[account], channel=CHANNEL)
    return ConfchatApp(session, server.host, server.port, **kwargs)


def queue_ids(app) -> list[int]:
    return [item.id for item in app.session.view.ordered_queue()]


def published_texts(viewer) -> list[str]:
    return [m.params[1] for m in viewer.drain() if m.command == "PRIVMSG" and m.params[0] == CHANNEL]


def shown(app) -> list[int]:
    return [int(key) for key, _ in app.query_one("#queue-table")._shown]


async def cursor_to(pilot, app, ident: int) -> None:
    table = app.query_one("#queue-table")
    await until(pilot, lambda: str(ident) in [key for key, _ in table._shown], what=f"row {ident}")
    table.move_cursor(row=[key for key, _ in table._shown].index(str(ident)))
    await pilot.pause()


@pytest.fixture
def town(start_event):
    """The event on one process, and again on two nodes of a cluster (the
    terminal client on one, every IRC client on the other)."""
    return start_event(CONFIG)


async def test_keys_approve_reorder_edit_forward_and_drop(town):
    carol = visitor(town, "carol")
    viewer = visitor(town, "dave", caps=VIEWER_CAPS)
    mayor = town.client("mayor", caps=("message-tags",), sasl=("mayor", PASSWORDS["mayor"]))
    mayor.send(f"JOIN {CHANNEL}")
    mayor.expect("366")
    ids = [ask(carol, text) for text in ("Tram?", "Bus?", "Bikes?", "The mayor is a clown", "Parks?")]
    app = make_app(town)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: queue_ids(app) == ids, what="the queue loaded")
        assert "queue 5" in str(app.query_one("#status").render())

        # approve the first: the viewer gets exactly that question
        await cursor_to(pilot, app, ids[0])
        await pilot.press("a")
        await until(pilot, lambda: ids[0] not in app.session.view.queue)
        assert await in_thread(published_texts, viewer) == ["Tram?"]

        # move the last to the top, then one down: the server's order is ours
        await cursor_to(pilot, app, ids[4])
        await pilot.press("t")
        await until(pilot, lambda: shown(app)[0] == ids[4], what="shown at the top")
        await pilot.press("d")
        await until(pilot, lambda: queue_ids(app)[:2] == [ids[1], ids[4]])
        carol.send("PING x")  # nothing was published meanwhile
        assert await in_thread(published_texts, viewer) == []

        # edit: the prompt comes with the text; the viewer gets the new words
        await cursor_to(pilot, app, ids[2])
        await pilot.press("e")
        prompt = app.screen.query_one("#prompt-input")
        assert prompt.value == "Bikes?"
        prompt.value = "Will there be more bike lanes?"
        await pilot.press("enter")
        await until(pilot, lambda: ids[2] not in app.session.view.queue)
        assert await in_thread(published_texts, viewer) == ["Will there be more bike lanes?"]

        # forward: the guest gets the item, the viewer nothing
        await cursor_to(pilot, app, ids[1])
        await pilot.press("f")
        forwarded = await in_thread(
            mayor.expect, lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[3] == "forwarded")
        assert int(forwarded.params[2]) == ids[1]
        assert app.session.view.queue[ids[1]].state is State.FORWARDED

        # drop with a reason: carol is told, the viewer sees nothing
        await cursor_to(pilot, app, ids[3])
        await pilot.press("x")
        app.screen.query_one("#prompt-input").value = "Please stay polite"
        await pilot.press("enter")
        declined = await in_thread(carol.expect, lambda m: m.command == "NOTE" and m.params[1] == "DECLINED")
        assert declined.params[-1].endswith("Please stay polite")
        assert await in_thread(published_texts, viewer) == []
        assert queue_ids(app) == [ids[1], ids[4]]


async def test_bulk_selection_and_another_moderators_decision(town):
    carol = visitor(town, "carol")
    viewer = visitor(town, "dave", caps=VIEWER_CAPS)
    ids = [ask(carol, f"Question {n}") for n in range(4)]
    modb = town.client("modb", caps=("message-tags", "standard-replies"), sasl=("modb", PASSWORDS["modb"]))
    modb.send(f"JOIN {CHANNEL}")
    modb.expect("366")
    app = make_app(town)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: queue_ids(app) == ids)
        await cursor_to(pilot, app, ids[0])
        await pilot.press("space", "space")  # selects 0 and 1, the cursor moves down
        assert app.selected == {ids[0], ids[1]}
        assert "2 selected" in str(app.query_one("#status").render())
        await pilot.press("a")
        await until(pilot, lambda: queue_ids(app) == ids[2:])
        assert sorted(await in_thread(published_texts, viewer)) == ["Question 0", "Question 1"]
        assert app.selected == set()

        # another moderator's decision shows at once
        modb.send(f"QUEUE {CHANNEL} DROP {ids[2]}")
        await until(pilot, lambda: queue_ids(app) == [ids[3]], what="modb's drop shown")
        await pilot.press("4")
        assert any(f"#{ids[2]} dropped by modb" in line.text for line in app.session.view.log)


async def test_published_stream_delete_and_now_answering(town):
    carol = visitor(town, "carol")
    viewer = visitor(town, "dave", caps=VIEWER_CAPS)
    first = ask(carol, "Tram?")
    second = ask(carol, "Posted twice")
    app = make_app(town)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.session.view.queue) == 2)
        app.act(lambda: app.session.approve([first, second]))
        await until(pilot, lambda: len(app.session.view.questions) == 2)
        await in_thread(viewer.drain)
        await pilot.press("2")
        table = app.query_one("#published-table")
        await until(pilot, lambda: table.row_count == 2)
        table.move_cursor(row=0)  # the latest first: "Posted twice"
        await pilot.press("D")
        app.screen.query_one("#prompt-input").value = "Duplicate"
        await pilot.press("enter")
        redact = await in_thread(viewer.expect, "REDACT")
        assert redact.params[2] == "Duplicate"
        await until(pilot, lambda: second not in app.session.view.questions)
        table.move_cursor(row=1)
        await pilot.press("w")
        notice = await in_thread(viewer.expect, lambda m: m.command == "NOTICE" and "confchat/answering" in m.tags)
        assert notice.tags["confchat/answering"] == str(first)
        await until(pilot, lambda: f"answering #{first}" in str(app.query_one("#status").render()))


async def test_audience_search_mute_and_settings_by_command(town):
    visitors = [visitor(town, nick) for nick in ("carol", "dave", "erin")]
    app = make_app(town)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.session.view.audience) == 3)
        await pilot.press("3")
        await pilot.press("slash")
        app.screen.query_one("#prompt-input").value = "er"
        await pilot.press("enter")
        await until(pilot, lambda: [m.nick for m in app.session.view.audience] == ["erin"])
        table = app.query_one("#audience-table")
        await until(pilot, lambda: table.row_count == 1)
        await pilot.press("M")
        app.screen.query_one("#prompt-input").value = "600 Rude"
        await pilot.press("enter")
        await until(pilot, lambda: any("CONF MUTE" in line.text for line in app.session.view.log))
        modb = town.client("modb", caps=("message-tags", "standard-replies"), sasl=("modb", PASSWORDS["modb"]))
        modb.send(f"CONF {CHANNEL} BANS")
        restriction = await in_thread(modb.expect, lambda m: m.command == "CONF" and m.params[1] == "RESTRICTION")
        assert restriction.params[2] == "mute" and restriction.params[4] == "moda"
        assert restriction.params[-1] == "Rude" and int(restriction.params[5]) > 0

        await pilot.press("colon")
        for key in ":slow 30":
            await pilot.press(key if key != " " else "space")
        await pilot.press("enter")
        await until(pilot, lambda: "slow 30s" in str(app.query_one("#status").render()))
        slow = await in_thread(visitors[0].expect, lambda m: "confchat/slow_mode" in m.tags)
        assert slow.tags["confchat/slow_mode"] == "30"
