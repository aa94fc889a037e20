"""The guest's view, headless against the real server: forwarded questions
with an answer composer, published questions by votes, prepared answers;
and a connection killed by the server keeps the half-typed answer."""

from __future__ import annotations

import pytest

from accounts import CHANNEL, CONFIG, PASSWORDS, VIEWER_CAPS, ask, visitor
from conftest import in_thread, until
from confchat.tui.app import ConfchatApp
from confchat.tui.lines import Role
from confchat.tui.session import Session

pytestmark = pytest.mark.anyio


@pytest.fixture
def town(start_event):
    """One process, then two nodes of a cluster (the guest's terminal on one,
    the moderator and the visitors on the other)."""
    return start_event(CONFIG)


def moderator(server, account="moda"):
    client = server.client(account, caps=("message-tags", "standard-replies"), sasl=(account, PASSWORDS[account]))
    client.send(f"JOIN {CHANNEL}")
    client.expect("366")
    return client


async def type_text(pilot, text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


def guest_app(server) -> ConfchatApp:
    return ConfchatApp(Session("mayor", PASSWORDS["mayor"], channel=CHANNEL), server.host, server.port)


async def test_the_guest_answers_a_forwarded_question_through_a_killed_connection(town):
    carol = visitor(town, "carol")
    viewer = visitor(town, "dave", caps=VIEWER_CAPS)
    moda = moderator(town)
    ident = ask(carol, "When will the tram come")
    moda.send(f"QUEUE {CHANNEL} FORWARD {ident}")
    app = guest_app(town)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.session.view.role is Role.GUEST and app.session.view.forwarded())
        table = app.query_one("#forwarded-table")
        await until(pilot, lambda: table.row_count == 1)
        await pilot.press("enter")  # into the composer
        await type_text(pilot, "Spring 2027 and the works")
        assert app.session.view.drafts[ident] == "Spring 2027 and the works"

        # the server kills the connection (an operator's KILL)
        root = town.client("root")
        root.send(f"OPER root {PASSWORDS['root']}")
        await in_thread(root.expect, "381")
        root.send("KILL mayor :testing the reconnection")
        await until(pilot, lambda: app.session.connections == 1 and not app.session.registered, what="cut off")
        composer = app.query_one("#composer")
        assert composer.value == "Spring 2027 and the works"
        await until(pilot, lambda: app.session.connections == 2 and app.session.view.joined, timeout=20,
                    what="reconnected and joined")
        await until(pilot, lambda: [i.id for i in app.session.view.forwarded()] == [ident])
        assert composer.value == "Spring 2027 and the works"

        # the guest goes on typing and sends: the viewer gets the question, then the answer
        composer.focus()
        await pilot.press("end")
        await type_text(pilot, " start in March")
        await pilot.press("enter")
        question = await in_thread(viewer.expect, lambda m: m.command == "PRIVMSG" and m.params[0] == CHANNEL)
        answer = await in_thread(viewer.expect, lambda m: m.command == "PRIVMSG" and m.params[0] == CHANNEL)
        assert question.params[1] == "When will the tram come"
        assert answer.params[1] == "Spring 2027 and the works start in March"
        assert answer.tags["+draft/reply"] == question.tags["msgid"]
        await until(pilot, lambda: not app.session.view.forwarded())
        assert app.session.view.drafts == {}


async def test_questions_by_votes_and_prepared_answers(town):
    carol = visitor(town, "carol")
    dave = visitor(town, "dave", caps=VIEWER_CAPS)
    moda = moderator(town)
    low, high = ask(carol, "Parks"), ask(carol, "Trams")
    moda.send(f"QUEUE {CHANNEL} APPROVE {low},{high}")
    await in_thread(dave.expect, lambda m: m.command == "PRIVMSG" and m.params[1] == "Trams")
    dave.send(f"VOTE {CHANNEL} {high}")
    app = guest_app(town)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.session.view.questions) == 2)
        await pilot.press("2")
        table = app.query_one("#questions-table")
        await until(pilot, lambda: [key for key, _ in table._shown] == [str(high), str(low)], what="by votes")
        carol.send(f"VOTE {CHANNEL} {low}")
        dave.send(f"VOTE {CHANNEL} {low}")
        await until(pilot, lambda: [key for key, _ in table._shown] == [str(low), str(high)], what="re-ordered")

        # write a prepared answer, edit it, publish it in reply to "Trams"
        await pilot.press("3")
        await pilot.press("a")
        app.screen.query_one("#prompt-input").value = "tram"
        await pilot.press("enter")
        app.screen.query_one("#prompt-input").value = "In 2027."
        await pilot.press("enter")
        await until(pilot, lambda: "tram" in app.session.view.prepared)
        prepared = app.query_one("#prepared-table")
        await until(pilot, lambda: prepared.row_count == 1)
        await pilot.press("e")
        assert app.screen.query_one("#prompt-input").value == "In 2027."
        app.screen.query_one("#prompt-input").value = "In spring 2027."
        await pilot.press("enter")
        await until(pilot, lambda: app.session.view.prepared["tram"].text == "In spring 2027.")
        await in_thread(dave.drain)
        await pilot.press("p")
        app.screen.query_one("#prompt-input").value = str(high)
        await pilot.press("enter")
        answer = await in_thread(dave.expect, lambda m: m.command == "PRIVMSG" and m.params[0] == CHANNEL)
        assert answer.params[1] == "In spring 2027." and answer.tags["confchat/item"] == str(high)
        await until(pilot, lambda: "tram" not in app.session.view.prepared)
