"""The room screen (/screen?conf=...) in a real browser (Debian chromium)
against the real server: the conference's title, the question being
answered in large type, live as the staff act over TCP, and a QR code read
back from the screenshot (zbarimg, Debian's zbar-tools) that opens the
visitor page. The same QR code on the embed page; /qr.svg itself."""

from __future__ import annotations

import http.client
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import segno
from argon2 import PasswordHasher
from playwright.sync_api import expect

from e2e_client import assert_no_axe_violations as axe_check
from e2e_client import screenshots_dir

SCREENSHOTS = screenshots_dir()
STAFF_CAPS = ("message-tags", "standard-replies", "echo-message")


def config(**branding) -> dict:
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    data = {
        "accounts": [{"name": "moda", "password_hash": hasher.hash("moda-pw")}],
        "conferences": [{"channel": "#townhall", "title": "Ask the mayor", "moderators": ["moda"], "state": "live"}],
    }
    if branding:
        data["branding"] = branding
    return data


def moderator(server):
    moda = server.client("moda", caps=STAFF_CAPS, sasl=("moda", "moda-pw"))
    moda.send("JOIN #townhall")
    moda.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    return moda


def visitor(server, nick: str):
    client = server.client(nick, caps=("message-tags", "standard-replies"))
    client.send("JOIN #townhall")
    client.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))
    return client


MSGIDS: dict[str, str] = {}  # item id -> msgid of its publication, as the moderator saw it


def publish(moda, citizen, text: str) -> str:
    citizen.send(f"PRIVMSG #townhall :{text}")
    held = citizen.expect(lambda m: m.command == "NOTE" and m.params[1] == "HELD")
    item = held.params[3]
    moda.send(f"QUEUE #townhall APPROVE {item}")
    line = moda.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == text)
    MSGIDS[item] = line.tags["msgid"]
    moda.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[2] == item and m.params[3] == "published")
    return item


def decode_qr(path: Path) -> str:
    """What the QR code in the image at ``path`` says (zbarimg)."""
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        import os

        if os.environ.get("CI"):
            pytest.fail("zbarimg is missing (scripts/install-test-deps installs zbar-tools)")
        pytest.skip("zbarimg not installed")
    done = subprocess.run([zbarimg, "--quiet", "--raw", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def get(server, path: str, host: str | None = None) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    headers = {"Host": host} if host else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type", ""), body


def test_the_room_screen_shows_the_question_being_answered_and_a_qr_code_to_join(start_server, new_page, tmp_path):
    server = start_server(config())
    moda = moderator(server)
    carol = visitor(server, "carol")
    tram = publish(moda, carol, "When will the tram reach the north district?")
    tickets = publish(moda, carol, "Will tickets be cheaper for students?")
    moda.send(f"CONF #townhall ANSWERING {tram}")
    moda.expect(lambda m: m.command == "NOTICE" and "confchat/answering" in m.tags)

    page = new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"http://127.0.0.1:{server.http_port}/screen?conf=%23townhall")
    expect(page.locator("h1")).to_have_text("Ask the mayor")
    stage = page.locator(".stage-question")
    expect(stage).to_have_text("When will the tram reach the north district?")
    expect(page.locator(".stage-author")).to_have_text("— carol")
    # Large type: readable from the back of the hall.
    size = float(stage.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
    assert size >= 64, size

    # The QR code, read back from what the screen shows, opens the visitor page.
    qr = page.locator("img.qr")
    expect(qr).to_be_visible()
    page.wait_for_function("() => document.querySelector('img.qr').complete && document.querySelector('img.qr').naturalWidth > 0")
    shot = tmp_path / "qr.png"
    qr.screenshot(path=str(shot))
    join_url = f"http://127.0.0.1:{server.http_port}/?conference=%23townhall"
    assert decode_qr(shot) == join_url
    expect(page.locator(".join-url")).to_have_text(join_url)
    axe_check(page, "the room screen")
    page.screenshot(path=str(SCREENSHOTS / "screen-answering.png"))

    # The link works: it opens the visitor page of the conference.
    visit = new_page()
    visit.goto(join_url)
    expect(visit.get_by_role("textbox", name=re.compile("nickname", re.I))).to_be_visible()

    # Live: the next question, then nothing being answered.
    moda.send(f"CONF #townhall ANSWERING {tickets}")
    expect(stage).to_have_text("Will tickets be cheaper for students?")
    moda.send(f"CONF #townhall ANSWERED {tickets}")
    expect(stage).to_be_hidden()
    expect(page.locator(".stage-waiting")).to_have_text("The questions will appear here.")
    # A question published now, answered at once.
    later = publish(moda, carol, "Is the tram free on Sundays?")
    moda.send(f"CONF #townhall ANSWERING {later}")
    expect(stage).to_have_text("Is the tram free on Sundays?")
    # Deleted while on the screen: it goes.
    moda.send(f"REDACT #townhall {MSGIDS[later]} :Off topic")
    expect(stage).to_be_hidden()
    assert page.errors == []


def test_a_screen_opened_mid_answer_shows_the_question_and_the_popular_ones(start_server, new_page):
    server = start_server(config())
    moda = moderator(server)
    carol = visitor(server, "carol")
    answering = publish(moda, carol, "How much will the tram cost?")
    popular = publish(moda, carol, "Where will the depot be?")
    moda.send(f"CONF #townhall ANSWERING {answering}")
    fans = [visitor(server, f"fan{n}") for n in range(3)]
    for fan in fans:
        fan.send(f"VOTE #townhall {popular}")
        fan.expect(lambda m: m.command == "NOTE" and m.params[1] == "COUNTED")

    page = new_page(locale="fr-FR", viewport={"width": 1280, "height": 720})
    page.goto(f"http://127.0.0.1:{server.http_port}/screen?conf=%23townhall")
    expect(page.locator(".stage-label")).to_have_text("Réponse en cours")
    expect(page.locator(".stage-question")).to_have_text("How much will the tram cost?")
    top = page.locator(".top-item")
    expect(top).to_have_count(1)
    expect(top).to_contain_text("Where will the depot be?")
    expect(top).to_contain_text("3 votes")
    # The screen counts in the audience, as one visitor (protocol.md, "The room screen").
    expect(page.locator(".screen-audience")).to_have_text(re.compile(r"^\d+ personnes dans le public$"))
    axe_check(page, "the room screen in French")
    assert page.errors == []


def test_the_embed_page_shows_the_same_qr_code(start_server, new_page, tmp_path):
    server = start_server(config())
    page = new_page()
    page.goto(f"http://127.0.0.1:{server.http_port}/embed?conference=%23townhall")
    qr = page.locator(".qr-card img.qr")
    expect(qr).to_be_visible()
    page.wait_for_function("() => { const i = document.querySelector('.qr-card img.qr'); return i && i.complete && i.naturalWidth > 0; }")
    shot = tmp_path / "embed-qr.png"
    qr.screenshot(path=str(shot))
    assert decode_qr(shot) == f"http://127.0.0.1:{server.http_port}/?conference=%23townhall"
    expect(page.get_by_role("link", name=re.compile("room screen"))).to_have_attribute("href", "/screen?conf=%23townhall")
    axe_check(page, "the embed page with its QR code")


def test_qr_svg_is_the_join_link_of_a_known_conference_only(start_server):
    server = start_server(config(public_url="https://chat.city.example"))
    status, kind, body = get(server, "/qr.svg?conference=%23TownHall")
    assert (status, kind) == (200, "image/svg+xml")
    expected = segno.make("https://chat.city.example/?conference=%23townhall", error="m", micro=False)
    # The same matrix: segno's own SVG of the expected link, without the
    # size attributes the server adds.
    import io

    out = io.BytesIO()
    expected.save(out, kind="svg", scale=10, border=4, dark="#000", light="#fff", xmldecl=False, svgclass="qr",
                  lineclass=None, omitsize=True)
    width, height = expected.symbol_size(scale=10, border=4)
    assert body == out.getvalue().replace(b"<svg ", f'<svg width="{width}" height="{height}" '.encode(), 1)
    assert re.search(rb'viewBox="0 0 \d+ \d+"', body)
    # Not a conference yet: its link all the same (to print before CONF CREATE).
    status, _, later = get(server, "/qr.svg?conference=%23later")
    assert status == 200 and later != body
    for bad in ("/qr.svg", "/qr.svg?conference=nowhere", "/qr.svg?conference=%23a%20b", "/qr.svg?conference=%23" + "x" * 70):
        assert get(server, bad)[0] == 404, bad


def test_without_a_public_url_the_link_follows_the_host_asked_for_when_it_is_one(start_server):
    server = start_server(config())
    _, _, body = get(server, "/screen?conf=%23townhall", host="chat.example:8080")
    assert b'"join_url": "http://chat.example:8080/?conference=%23townhall"' in body
    _, _, body = get(server, "/screen?conf=%23townhall", host="evil.example/<script>")
    assert b"evil" not in body  # not a host: the configured address instead
