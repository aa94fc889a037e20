"""Web administration (/admin) in Debian's chromium, against the real
server: an admin creates a conference and a moderator account from
scratch, edits the schedule, gives the role; the moderator signs in on the
console in another browser context and publishes a visitor's question; the
admin downloads the transcript with a button, lifts a ban, reads the audit
logs; a restart keeps the account (it is in the database). The operator
that `confchat init` writes signs in here too. Each page is scanned with
axe-core."""

from __future__ import annotations

import datetime
import re

from argon2 import PasswordHasher
from playwright.sync_api import expect

from confchat.cli import main as cli_main
from e2e_client import assert_no_axe_violations as assert_accessible
from e2e_client import screenshots_dir

_hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
BOSS_PW = "boss-secret-pw"
CONFIG = {
    "accounts": [
        {"name": "boss", "password_hash": _hasher.hash(BOSS_PW), "admin": True},
        {"name": "moda", "password_hash": _hasher.hash("moda-secret-pw")},
    ],
    "conferences": [{"channel": "#townhall", "title": "Ask the mayor", "moderators": ["moda"], "state": "live"}],
}
CAPS = ("message-tags", "standard-replies", "labeled-response")
SHOTS = screenshots_dir()


def admin_page(new_page, server, account="boss", password=BOSS_PW):
    page = new_page()
    page.goto(f"http://127.0.0.1:{server.http_port}/admin")
    login = page.locator("#login")
    login.get_by_label("Account").fill(account)
    login.get_by_label("Password", exact=True).fill(password)
    login.get_by_role("button", name="Sign in").click()
    return page


def ready(page):
    expect(page.locator("#admin")).to_have_attribute("data-ready", "true")
    return page


def console(new_page, server, account, password):
    page = new_page()
    page.goto(f"http://127.0.0.1:{server.http_port}/moderator?conference=%23budget")
    page.get_by_label("Account").fill(account)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    return page


def info(client, channel):
    client.send(f"CONF {channel} INFO")
    values = {}
    while True:
        msg = client.expect("CONF")
        if msg.params[1] == "END":
            return values
        values[msg.params[2]] = msg.params[3]


def test_a_moderated_event_from_scratch_on_the_admin_page(start_server, new_page, tmp_path):
    data = str(tmp_path / "data")
    server = start_server(CONFIG, "--data-dir", data)
    page = ready(admin_page(new_page, server))
    expect(page.locator(".who")).to_have_text("Signed in as boss")
    expect(page.locator("#accounts-list li[data-account=moda]")).to_contain_text("read-only")
    assert_accessible(page, "the admin page")

    # A conference, from nothing.
    page.locator("#new-conference").get_by_label("Channel (starts with #)").fill("#budget")
    page.locator("#new-conference").get_by_label("Title").fill("The city budget")
    page.get_by_role("button", name="Create the conference").click()
    expect(page.locator("#admin-status")).to_have_text("Conference #budget created")
    expect(page.locator("#editor-title")).to_have_text("Conference #budget")
    expect(page.locator("#conference-list li[data-channel='#budget']")).to_contain_text("The city budget")

    # Its settings and schedule.
    page.locator("#conf-settings").get_by_label("Description").fill("Where the money goes")
    page.locator("#conf-settings").get_by_label("Starts").fill("2030-05-01T18:00")
    page.locator("#conf-settings").get_by_label("Ends").fill("2030-05-01T19:30")
    page.locator("#conf-settings").get_by_label("Slow mode, seconds (0 = off)").fill("30")  # the default is 10
    page.get_by_role("button", name="Save the settings").click()
    expect(page.locator("#admin-status")).to_have_text("4 settings saved.")
    page.locator("#conf-state-form").get_by_label("State").select_option("live")
    page.get_by_role("button", name="Set the state").click()
    expect(page.locator("#admin-status")).to_have_text("#budget is now live")
    watcher = server.client("watcher", caps=CAPS)
    values = info(watcher, "#budget")
    assert values["description"] == "Where the money goes" and values["slow_mode"] == "30"
    assert values["state"] == "live"
    starts = datetime.datetime.fromisoformat(values["starts"])
    assert starts.tzinfo is not None  # with its UTC offset, as the protocol wants
    assert starts.astimezone().replace(tzinfo=None) == datetime.datetime(2030, 5, 1, 18, 0)
    # The schedule is changed again, and the form shows what the server has.
    page.locator("#conf-settings").get_by_label("Starts").fill("2030-05-01T17:45")
    page.get_by_role("button", name="Save the settings").click()
    expect(page.locator("#admin-status")).to_have_text("1 setting saved.")
    values = info(watcher, "#budget")
    assert datetime.datetime.fromisoformat(values["starts"]).astimezone().replace(tzinfo=None) == datetime.datetime(
        2030, 5, 1, 17, 45)
    page = ready(admin_page(new_page, server))
    page.get_by_role("button", name="Edit #budget").click()
    expect(page.locator("#conf-settings").get_by_label("Starts")).to_have_value("2030-05-01T17:45")
    expect(page.locator("#conf-settings").get_by_label("Description")).to_have_value("Where the money goes")

    # A moderator account, stored hashed, and its role.
    page.get_by_label("Account", exact=True).last.fill("nadia")
    page.locator("#new-password").fill("nadia-secret-pw")
    page.get_by_role("button", name="Create the account").click()
    expect(page.locator("#admin-status")).to_have_text("Account nadia created")
    expect(page.locator("#accounts-list li[data-account=nadia]")).to_contain_text("Created")
    page.locator("#role-account").select_option("nadia")
    page.locator("#role-name").select_option("moderator")
    page.get_by_role("button", name="Give the role").click()
    expect(page.locator("#roles-list li[data-account=nadia]")).to_contain_text("Moderator")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "admin-conference.png"), full_page=True)
    assert_accessible(page, "the admin page with a conference open")

    # Nadia moderates from the console, in a browser context of her own.
    moderator = console(new_page, server, "nadia", "nadia-secret-pw")
    expect(moderator.locator("#admin-link")).to_be_hidden()
    carol = server.client("carol", caps=CAPS)
    carol.send("JOIN #budget")
    carol.expect("366")
    carol.send("PRIVMSG #budget :How much for the parks?")
    item = carol.expect(lambda m: m.command == "NOTE" and m.params[1] == "HELD").params[3]
    moderator.locator(f"#item-{item}").get_by_role("button", name="Approve").click()
    carol.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == "How much for the parks?")

    # A ban, lifted from the admin page.
    watcher.close()
    boss = server.client("bossirc", caps=CAPS, sasl=("boss", BOSS_PW))
    boss.send("CONF #budget BAN troll!*@* 0 :spam")
    boss.expect(lambda m: m.command == "NOTE" and m.params[1] == "BAN")
    page = ready(admin_page(new_page, server))
    page.get_by_role("button", name="Edit #budget").click()
    expect(page.locator("#bans-list")).to_contain_text("troll!*@*")
    page.get_by_role("button", name="Lift troll!*@*").click()
    expect(page.locator("#admin-status")).to_have_text("ban on troll!*@* lifted")
    expect(page.locator("#bans-list")).to_contain_text("No bans or mutes.")
    expect(page.locator("#audit-list")).to_contain_text("unban")
    expect(page.locator("#account-audit-list")).to_contain_text("create nadia")

    # The transcripts, with the buttons.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the public transcript").click()
    public = download.value
    assert public.suggested_filename.endswith(".html")
    assert "How much for the parks?" in open(public.path(), encoding="utf-8").read()
    page.locator("#export-format").select_option("json")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the internal archive").click()
    archive = open(download.value.path(), encoding="utf-8").read()
    assert "How much for the parks?" in archive and '"unban"' in archive
    assert page.errors == [] and moderator.errors == []

    # A restart keeps the account: it is in the database.
    server.stop()
    again = start_server(CONFIG, "--data-dir", data)
    moderator = console(new_page, again, "nadia", "nadia-secret-pw")
    expect(moderator.locator("#conf-title")).to_contain_text("The city budget")
    page = ready(admin_page(new_page, again))
    expect(page.locator("#accounts-list li[data-account=nadia]")).to_contain_text("Set")
    # A console signed in as an admin links here.
    boss_console = console(new_page, again, "boss", BOSS_PW)
    expect(boss_console.locator("#admin-link")).to_be_visible()


def test_passwords_are_set_reset_and_accounts_deleted_from_the_page(start_server, new_page):
    server = start_server(CONFIG)
    page = ready(admin_page(new_page, server))
    page.locator("#new-account").fill("nadia")
    page.locator("#new-password").fill("short")
    page.get_by_role("button", name="Create the account").click()
    expect(page.locator("#admin-error")).to_have_text(re.compile("A password has 8 to 256 characters"))
    page.locator("#new-password").fill("nadia-first-pw")
    page.get_by_role("button", name="Create the account").click()
    expect(page.locator("#admin-status")).to_have_text("Account nadia created")
    row = page.locator("#accounts-list li[data-account=nadia]")
    row.get_by_label("New password nadia").fill("nadia-second-pw")
    row.get_by_role("button", name="Set nadia").click()
    expect(page.locator("#admin-status")).to_have_text("Password of nadia changed")
    nadia = server.client("nadia", caps=CAPS, sasl=("nadia", "nadia-second-pw"))
    assert any(m.command == "903" for m in nadia.received)
    row.get_by_role("button", name="Make administrator nadia").click()
    expect(page.locator("#accounts-list li[data-account=nadia]")).to_contain_text("Administrator")
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#accounts-list li[data-account=nadia]").get_by_role("button", name="Delete nadia").click()
    expect(page.locator("#admin-status")).to_have_text("Account nadia deleted")
    expect(page.locator("#accounts-list li[data-account=nadia]")).to_have_count(0)
    nadia.wait_closed()
    expect(page.locator("#account-audit-list li")).to_have_count(4)
    assert page.errors == []


def test_a_moderator_is_told_this_page_is_for_admins(start_server, new_page):
    server = start_server(CONFIG)
    page = admin_page(new_page, server, "moda", "moda-secret-pw")
    expect(page.locator("#login-error")).to_have_text(re.compile("moda is not an administrator"))
    expect(page.locator("#admin")).to_be_hidden()
    login = page.locator("#login")
    login.get_by_label("Password", exact=True).fill("not-the-password")
    login.get_by_label("Account").fill("boss")
    login.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_have_text(re.compile("wrong account name or password"))


def test_the_operator_confchat_init_writes_signs_in(start_server, new_page, tmp_path, capsys):
    path = tmp_path / "config.toml"
    assert cli_main(["init", "--path", str(path)]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    password = lines[lines.index("") + 1]
    # No [[conferences]]: the demo opens too, with an account named admin
    # of its own; the operator's password still signs in here.
    server = start_server(None, "--config", str(path))
    page = ready(admin_page(new_page, server, "admin", password))
    expect(page.locator(".who")).to_have_text("Signed in as admin")
    page.locator("#new-conference").get_by_label("Channel (starts with #)").fill("#first")
    page.locator("#new-conference").get_by_label("Title").fill("The first one")
    page.get_by_role("button", name="Create the conference").click()
    expect(page.locator("#admin-status")).to_have_text("Conference #first created")
    assert page.errors == []
