"""Each view of confchat-tui after a real exchange with the server, saved as
an SVG screenshot (Textual's ``save_screenshot``) and checked for what it
must show at 80x24; with NO_COLOR, the screen has no colour at all.
``CONFCHAT_SCREENSHOTS=docs/screenshots`` refreshes the kept ones
(``tui-*.svg``)."""

from __future__ import annotations

import re

import pytest

from accounts import CHANNEL, CONFIG, PASSWORDS, ask, visitor
from conftest import until
from e2e_client import screenshots_dir
from confchat.tui.app import ConfchatApp
from confchat.tui.session import Session

pytestmark = pytest.mark.anyio
SHOTS = screenshots_dir()


@pytest.fixture
def town(start_server):
    server = start_server(CONFIG)
    carol = visitor(server, "carol")
    dave = visitor(server, "dave")
    erin = visitor(server, "erin")
    moda = server.client("moda", caps=("message-tags",), sasl=("moda", PASSWORDS["moda"]))
    moda.send(f"JOIN {CHANNEL}")
    moda.expect("366")
    questions = ["When will the tram reach the north district?", "Is the tram free on Sundays?",
                 "How much will the tram line cost?", "Will tickets be cheaper for students?",
                 "Visit http://example.org for cheap tickets", "What about the bike lanes on Main Street?"]
    ids = [ask(carol if n % 2 else dave, text) for n, text in enumerate(questions)]
    moda.send(f"QUEUE {CHANNEL} APPROVE {ids[2]},{ids[3]}")
    moda.send(f"QUEUE {CHANNEL} FORWARD {ids[0]}")
    moda.send(f"QUEUE {CHANNEL} HOLD {ids[4]}")
    moda.send(f"PREPARED {CHANNEL} ADD bikes :Twelve kilometres of new lanes open next spring.")
    moda.send(f"CONF {CHANNEL} ANSWERING {ids[2]}")
    dave.send(f"VOTE {CHANNEL} {ids[3]}")
    carol.send(f"VOTE {CHANNEL} {ids[3]}")
    moda.roundtrip()
    server.ids = ids
    server.kept = [carol, dave, erin, moda]  # their sockets stay open for the test
    return server


def text_of(svg: str) -> str:
    return re.sub(r"&#160;|&nbsp;", " ", " ".join(re.findall(r">([^<>]+)</text>", svg)))


async def shoot(app, pilot, name: str) -> str:
    await pilot.pause(0.2)
    path = app.save_screenshot(filename=f"tui-{name}.svg", path=str(SHOTS))
    with open(path, encoding="utf-8") as file:
        return file.read()


async def test_every_view_at_80x24(town):
    ids = town.ids
    app = ConfchatApp(Session("moda", PASSWORDS["moda"], channel=CHANNEL), town.host, town.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.session.view.queue) == 4 and len(app.session.view.audience) == 3)
        svg = await shoot(app, pilot, "queue")
        shown = text_of(svg)
        assert "Is the tram free" in shown and "held" in shown and "fwd" in shown and "queue 4" in shown
        await pilot.press("2")
        shown = text_of(await shoot(app, pilot, "published"))
        assert "cheaper for students" in shown and f"answering #{ids[2]}" in shown
        await pilot.press("3")
        shown = text_of(await shoot(app, pilot, "audience"))
        assert "carol" in shown and "erin" in shown
        await pilot.press("colon")
        await pilot.press(*":audit".replace(":", ""))
        await pilot.press("enter")
        await pilot.press("4")
        await until(pilot, lambda: any("AUDIT" in line.text for line in app.session.view.log))
        shown = text_of(await shoot(app, pilot, "log"))
        assert "approve" in shown
        await pilot.press("question_mark")
        shown = text_of(await shoot(app, pilot, "help"))
        assert "approve" in shown and "Everywhere" in shown

    guest = ConfchatApp(Session("mayor", PASSWORDS["mayor"], channel=CHANNEL), town.host, town.port, light=True)
    async with guest.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: guest.session.view.forwarded() and guest.session.view.prepared)
        await pilot.press("enter")
        await pilot.press(*"In", "space", *"2027")
        shown = text_of(await shoot(guest, pilot, "guest-forwarded"))
        assert "north district" in shown and "In 2027" in shown
        await pilot.press("escape", "2")
        shown = text_of(await shoot(guest, pilot, "guest-questions"))
        assert "cheaper for students" in shown
        await pilot.press("3")
        shown = text_of(await shoot(guest, pilot, "guest-prepared"))
        assert "bikes" in shown


async def test_no_color_means_no_colour(town, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = ConfchatApp(Session("moda", PASSWORDS["moda"], channel=CHANNEL), town.host, town.port)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.session.view.queue) == 4)
        await pilot.pause(0.2)
        svg = app.export_screenshot()
    # The SVG's window frame has three coloured buttons of its own, not the app's.
    colours = set(re.findall(r"#([0-9a-fA-F]{6})\b", svg.lower())) - {"ff5f57", "febc2e", "28c840"}
    assert len(colours) > 2, "the screenshot holds no colours at all"

    def grey(colour: str) -> bool:
        channels = [int(colour[i : i + 2], 16) for i in (0, 2, 4)]
        return max(channels) - min(channels) <= 8  # the frame's title text is c5c8c6

    assert [c for c in colours if not grey(c)] == []
