"""The first-run demo (confchat.demo): what it adds to the configuration,
the file it keeps in the data directory, when it is off, its banner; and
the command line's words about accounts and operators."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import tomllib
from argon2 import PasswordHasher

from confchat import demo
from confchat.cli import main
from confchat.config import Account, Config, ConferenceConfig, ConfigError, ServerSection
from confchat.core.passwords import verify_password

# A cheap hasher keeps the tests quick; the hashes are real argon2id ones,
# checked by the server's own verify_password.
_fast = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


def fast_hash(password: str) -> str:
    return _fast.hash(password)


def in_dir(tmp_path: Path, **fields) -> Config:
    return Config(server=ServerSection(data_dir=str(tmp_path / "data")), **fields)


def prepare(config: Config, **kwargs):
    return demo.prepare(config, hasher=fast_hash, **kwargs)


# ------------------------------------------------------------------ first start


def test_the_first_start_adds_three_accounts_and_a_live_moderated_conference(tmp_path):
    config, shown = prepare(in_dir(tmp_path))
    assert shown is not None
    assert shown.channel == "#demo"
    assert shown.accounts == ("admin", "moderator", "guest")
    accounts = {a.name: a for a in config.accounts}
    assert set(accounts) == {"admin", "moderator", "guest"}
    assert accounts["admin"].admin and not accounts["moderator"].admin and not accounts["guest"].admin
    (conference,) = config.conferences
    assert (conference.channel, conference.state, conference.mode) == ("#demo", "live", "moderated")
    assert conference.moderators == ("moderator",)
    assert conference.guests == ("guest",)
    # Each password printed is the one its hash checks, and no two are alike.
    assert shown.passwords is not None and set(shown.passwords) == set(accounts)
    assert len(set(shown.passwords.values())) == 3
    for name, password in shown.passwords.items():
        assert verify_password(accounts[name].password_hash, password)
        assert not verify_password(accounts[name].password_hash, password + "x")


def test_a_generated_password_is_four_groups_without_look_alikes():
    for _ in range(50):
        password = demo.new_password()
        groups = password.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4]
        assert set("".join(groups)) <= set(demo.PASSWORD_ALPHABET)
    assert not set("01ilo") & set(demo.PASSWORD_ALPHABET)


def test_the_file_is_written_only_when_saved_and_holds_hashes_only(tmp_path):
    config, shown = prepare(in_dir(tmp_path))
    path = Path(shown.path)
    assert path == tmp_path / "data" / "demo.toml"
    assert not path.exists()  # nothing kept before the server listens
    shown.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    for password in shown.passwords.values():
        assert password not in text
    data = tomllib.loads(text)
    assert set(data) == {"accounts", "conferences"}
    assert {a["name"]: a["password_hash"] for a in data["accounts"]} == {
        a.name: a.password_hash for a in config.accounts
    }
    assert not list(path.parent.glob("*.tmp"))
    shown.save()  # a second save writes nothing new
    assert path.read_text() == text


def test_an_unsaved_first_start_leaves_no_file_and_the_next_makes_new_passwords(tmp_path):
    _, first = prepare(in_dir(tmp_path))  # e.g. the address was in use: never saved
    _, second = prepare(in_dir(tmp_path))
    assert second.passwords is not None
    assert second.passwords != first.passwords


# ------------------------------------------------------------------ restarts


def test_a_restart_reads_the_same_accounts_and_has_no_passwords_to_show(tmp_path):
    config, shown = prepare(in_dir(tmp_path))
    shown.save()
    again, restarted = prepare(in_dir(tmp_path))
    assert restarted.passwords is None
    assert again.accounts == config.accounts
    assert again.conferences == config.conferences
    for name, password in shown.passwords.items():
        account = next(a for a in again.accounts if a.name == name)
        assert verify_password(account.password_hash, password)


def test_reset_makes_new_passwords_and_the_old_ones_stop_working(tmp_path):
    config, shown = prepare(in_dir(tmp_path))
    shown.save()
    reset_config, reset = prepare(in_dir(tmp_path), reset=True)
    assert reset.passwords is not None
    reset.save()
    _, later = prepare(in_dir(tmp_path))
    assert later.passwords is None
    stored = {a.name: a.password_hash for a in reset_config.accounts}
    for name in demo.ACCOUNTS:
        assert verify_password(stored[name], reset.passwords[name])
        assert not verify_password(stored[name], shown.passwords[name])
    assert reset_config.conferences == config.conferences


def test_the_demo_keeps_the_configured_accounts_and_settings(tmp_path):
    own = Account(name="alice", password_hash=fast_hash("pw"))
    base = in_dir(tmp_path, accounts=(own,))
    config, shown = prepare(base)
    assert shown is not None
    assert config.accounts[0] == own
    assert [a.name for a in config.accounts] == ["alice", "admin", "moderator", "guest"]
    assert config.server == base.server


# ------------------------------------------------------------------ when it is off


def test_no_demo_turns_it_off(tmp_path):
    base = in_dir(tmp_path)
    config, shown = prepare(base, disabled=True)
    assert shown is None
    assert config == base
    assert not (tmp_path / "data").exists()


def test_a_configured_conference_turns_it_off_even_with_a_demo_file(tmp_path):
    _, shown = prepare(in_dir(tmp_path))
    shown.save()
    base = in_dir(tmp_path, conferences=(ConferenceConfig(channel="#townhall", title="Ask the mayor"),))
    config, off = prepare(base)
    assert off is None
    assert config == base
    assert not demo.wanted(base, disabled=False)
    assert demo.wanted(in_dir(tmp_path), disabled=False)


# ------------------------------------------------------------------ bad files


def test_a_damaged_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "data" / "demo.toml"
    path.parent.mkdir()
    path.write_text("[[accounts]\nname = ")
    with pytest.raises(ConfigError, match=r"demo\.toml: invalid TOML.*--reset-demo"):
        prepare(in_dir(tmp_path))
    # --reset-demo repairs it.
    _, shown = prepare(in_dir(tmp_path), reset=True)
    shown.save()
    assert prepare(in_dir(tmp_path))[1].passwords is None


@pytest.mark.parametrize(
    "text, problem",
    [
        ('[server]\nname = "x"\n', 'unknown key "server"'),
        ('[[conferences]]\nchannel = "#demo"\ntitle = "t"\n', r"no \[\[accounts\]\]"),
        ('[[accounts]]\nname = "admin"\npassword_hash = "plain"\n', r"one \[\[conferences\]\]"),
    ],
)
def test_a_file_of_the_wrong_shape_is_an_error(tmp_path, text, problem):
    path = tmp_path / "data" / "demo.toml"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        prepare(in_dir(tmp_path))


def test_a_plain_password_in_the_file_is_refused_without_being_shown(tmp_path):
    _, shown = prepare(in_dir(tmp_path))
    shown.save()
    path = Path(shown.path)
    data = tomllib.loads(path.read_text())
    text = path.read_text().replace(data["accounts"][1]["password_hash"], "hunter2-secret")
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        prepare(in_dir(tmp_path))
    assert "password_hash" in str(caught.value) and str(path) in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)


def test_a_configured_account_named_like_a_demo_one_is_an_error(tmp_path):
    base = in_dir(tmp_path, accounts=(Account(name="Moderator", password_hash=fast_hash("pw")),))
    with pytest.raises(ConfigError, match='demo account "moderator" is also in the configured'):
        prepare(base)


def test_an_unwritable_data_directory_is_an_error_at_save(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("a file, not a directory")
    _, shown = prepare(in_dir(tmp_path))
    with pytest.raises(ConfigError, match="cannot write"):
        shown.save()


# ------------------------------------------------------------------ the banner


def test_the_first_banner_has_the_three_pages_and_the_passwords(tmp_path):
    _, shown = prepare(in_dir(tmp_path))
    lines = demo.banner(shown, ["http://127.0.0.1:8080"])
    text = "\n".join(lines)
    visitor = next(line for line in lines if "Visitor:" in line)
    moderator = next(line for line in lines if "Moderator:" in line)
    guest = next(line for line in lines if "Guest:" in line)
    admin = next(line for line in lines if "Admin:" in line)
    assert "http://127.0.0.1:8080/?conference=%23demo" in visitor
    assert "http://127.0.0.1:8080/moderator" in moderator
    assert f"account moderator, password {shown.passwords['moderator']}" in moderator
    assert "http://127.0.0.1:8080/guest?conference=%23demo" in guest
    assert "http://127.0.0.1:8080/admin" in admin
    assert f"account guest, password {shown.passwords['guest']}" in guest
    assert f"account admin, password {shown.passwords['admin']}" in admin
    assert "shown only this once" in text
    assert "--no-demo" in text


def test_a_restart_banner_has_no_password_and_says_how_to_reset(tmp_path):
    _, shown = prepare(in_dir(tmp_path))
    shown.save()
    _, restarted = prepare(in_dir(tmp_path))
    text = "\n".join(demo.banner(restarted, ["http://127.0.0.1:8080"]))
    assert "account moderator" in text and "/guest?conference=%23demo" in text
    assert "password" not in text.replace("passwords were printed", "")
    for password in shown.passwords.values():
        assert password not in text
    assert "confchat serve --reset-demo" in text


def test_without_http_the_banner_names_the_accounts_for_irc_clients(tmp_path):
    _, shown = prepare(in_dir(tmp_path))
    text = "\n".join(demo.banner(shown, []))
    assert "http://" not in text
    assert "HTTP is off" in text
    assert f"account guest, password {shown.passwords['guest']}" in text


# ------------------------------------------------------------------ the command line


def test_reset_demo_without_a_demo_is_a_usage_error(tmp_path, capsys):
    assert main(["serve", "--no-demo", "--reset-demo", "--data-dir", str(tmp_path / "d")]) == 2
    assert "--reset-demo: there is no demo (--no-demo was given)" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_a_clashing_account_stops_serve_with_a_config_error(tmp_path, capsys):
    path = tmp_path / "config.toml"
    path.write_text(f'[[accounts]]\nname = "guest"\npassword_hash = "{fast_hash("pw")}"\n')
    assert main(["serve", "--config", str(path), "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("confchat: config error: ") and 'demo account "guest"' in err
    assert "--no-demo" in err


def test_init_says_admin_is_an_irc_operator_and_staff_are_accounts(tmp_path, capsys):
    assert main(["init", "--path", str(tmp_path / "config.toml")]) == 0
    out = capsys.readouterr().out
    assert 'The IRC operator "admin"' in out
    assert "/OPER admin <password>" in out
    assert "web administration page /admin" in out  # where the operator signs in on the web
    assert "[[accounts]]" in out and "confchat passwd" in out


def test_passwd_help_speaks_of_accounts_and_opers(capsys):
    assert main(["passwd", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "[[accounts]]" in out and "[[opers]]" in out
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert "hash a password for an [[accounts]] or [[opers]] entry" in listing


def test_serve_help_mentions_the_demo_and_its_flags(capsys):
    assert main(["serve", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--no-demo" in out and "--reset-demo" in out and "demo.toml" in out
