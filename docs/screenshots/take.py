"""Screenshots of the first-run demo: the visitor, moderator, guest, administration and room-screen pages
on a desktop (1280×800) and a phone (390×844), with a few questions asked,
one published, one answered by the guest and two waiting.

Starts the real ``confchat serve`` with no configuration in a temporary
directory (the demo), reads the banner for the addresses and passwords, and
drives Debian's chromium with Playwright (as the browser tests do):

    .venv/bin/python docs/screenshots/take.py [--out docs/screenshots]

Writes ``first-run-<page>-<desktop|phone>.png``: the whole page on the
desktop, the first screen on the phone.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PAGE = re.compile(r"^\s*(?P<who>Visitor|Moderator|Guest|Admin):\s+(?P<url>http://\S+)(?P<rest>.*)$")
PASSWORD = re.compile(r"account (?P<name>\S+), password (?P<password>\S+)")

QUESTIONS = [
    ("amelie", "Will the new library open on Sundays?"),
    ("bruno", "How many trees will the park on Rue Haute get?"),
    ("chloe", "Can the night buses run later on weekends?"),  # one question each: the demo's slow mode
    ("david", "Is there a plan for more bike parking at the station?"),
]
ANSWER = "Two hundred, planted next autumn, most of them native oaks and limes."


class DemoServer:
    """``confchat serve`` in a fresh directory, until ``stop``."""

    def __init__(self, workdir: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "confchat", "serve", "--tcp", "127.0.0.1:0", "--http", "127.0.0.1:0"],
            cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line)
                if "Stop with Ctrl-C" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30) or self.proc.poll() is not None:
            raise SystemExit("the server did not start:\n" + "".join(self.lines))
        self.pages: dict[str, str] = {}
        self.passwords: dict[str, str] = {}
        for line in self.lines:
            if m := PAGE.match(line):
                self.pages[m["who"]] = m["url"]
                if p := PASSWORD.search(m["rest"]):
                    self.passwords[p["name"]] = p["password"]
        if set(self.pages) != {"Visitor", "Moderator", "Guest", "Admin"}:
            raise SystemExit("no demo in the banner:\n" + "".join(self.lines))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)


def sign_in(page, url: str, account: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("Account").fill(account)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def join(page, url: str, nick: str) -> None:
    page.goto(url)
    box = page.get_by_role("textbox", name=re.compile("nickname", re.I))
    box.fill(nick)
    box.press("Enter")
    expect(page.get_by_role("textbox", name="Your question")).to_be_focused()


def queue_card(page, text: str):
    return page.locator("#queue-list > li.item").filter(has=page.locator(".message-text", has_text=text))


def play_the_exchange(browser, demo: DemoServer) -> None:
    """Questions from two visitors; one published, one answered, two waiting."""
    contexts = []

    def page():
        context = browser.new_context(locale="en-GB", viewport=VIEWPORTS["desktop"])
        contexts.append(context)
        p = context.new_page()
        p.set_default_timeout(15_000)
        return p

    moderator, guest = page(), page()
    sign_in(moderator, demo.pages["Moderator"], "moderator", demo.passwords["moderator"])
    expect(moderator.locator("#console")).to_have_attribute("data-ready", "true")
    sign_in(guest, demo.pages["Guest"], "guest", demo.passwords["guest"])
    expect(guest.get_by_text("Signed in as guest")).to_be_visible()
    visitors = {}
    for nick, text in QUESTIONS:
        if nick not in visitors:
            visitors[nick] = page()
            join(visitors[nick], demo.pages["Visitor"], nick)
        composer = visitors[nick].get_by_role("textbox", name="Your question")
        composer.fill(text)
        composer.press("Enter")
        expect(queue_card(moderator, text)).to_have_count(1)
    published, forwarded = QUESTIONS[0][1], QUESTIONS[1][1]
    queue_card(moderator, published).get_by_role("button", name="Approve").click()
    expect(queue_card(moderator, published)).to_contain_text("Published by moderator")
    item = queue_card(moderator, forwarded).get_attribute("data-id")
    queue_card(moderator, forwarded).get_by_role("button", name="Forward to guest").click()
    for_you = guest.locator(f'#for-you-list > li[data-item="{item}"]')
    for_you.get_by_label("Your answer").fill(ANSWER)
    for_you.get_by_role("button", name="Publish answer").click()
    expect(guest.locator("#guest-status")).to_contain_text("is published")
    for context in contexts:
        context.close()


def shoot(browser, demo: DemoServer, out: Path) -> list[Path]:
    written = []
    for device, viewport in VIEWPORTS.items():
        context = browser.new_context(locale="en-GB", viewport=viewport, is_mobile=device == "phone",
                                      has_touch=device == "phone", device_scale_factor=1)
        try:
            visitor, moderator, guest = context.new_page(), context.new_page(), context.new_page()
            for p in (visitor, moderator, guest):
                p.set_default_timeout(15_000)
            join(visitor, demo.pages["Visitor"], f"carol{device[0]}")
            expect(visitor.get_by_role("log")).to_contain_text(ANSWER)
            sign_in(moderator, demo.pages["Moderator"], "moderator", demo.passwords["moderator"])
            expect(moderator.locator("#console")).to_have_attribute("data-ready", "true")
            expect(moderator.locator("#queue-list > li.item")).to_have_count(2)
            sign_in(guest, demo.pages["Guest"], "guest", demo.passwords["guest"])
            expect(guest.get_by_text("Signed in as guest")).to_be_visible()
            expect(guest.locator("#question-list")).to_contain_text(QUESTIONS[1][1])
            admin, screen = context.new_page(), context.new_page()
            for p in (admin, screen):
                p.set_default_timeout(15_000)
            admin.goto(demo.pages["Admin"])
            admin.locator("#login").get_by_label("Account").fill("admin")
            admin.locator("#login").get_by_label("Password", exact=True).fill(demo.passwords["admin"])
            admin.locator("#login").get_by_role("button", name="Sign in").click()
            expect(admin.locator("#admin")).to_have_attribute("data-ready", "true")
            screen.goto(demo.pages["Visitor"].replace("/?conference=", "/screen?conf="))
            expect(screen.locator("img.qr")).to_be_visible()
            pages = (("visitor", visitor), ("moderator", moderator), ("guest", guest), ("admin", admin),
                     ("screen", screen))
            for name, p in pages:
                p.evaluate("window.scrollTo(0, 0)")
                p.evaluate("document.activeElement && document.activeElement.blur()")
                path = out / f"first-run-{name}-{device}.png"
                # The desktop's whole page; the phone's first screen, as it is seen.
                p.screenshot(path=str(path), full_page=device == "desktop")
                written.append(path)
        finally:
            context.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).parent), help="where to write (default: %(default)s)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        demo = DemoServer(Path(workdir))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    play_the_exchange(browser, demo)
                    for path in shoot(browser, demo, out):
                        print(path)
                finally:
                    browser.close()
        finally:
            demo.stop()


if __name__ == "__main__":
    main()
