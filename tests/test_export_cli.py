"""confchat export: a conference's transcript from the server's database,
run in process through main()."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from confchat.cli import main
from confchat.config import ConferenceConfig
from confchat.moderation.conference import Conference, Publication
from confchat.storage.sqlite import Store
from confchat.storage.rows import take_rows

T0 = 1_700_000_000.0
QUESTION = "When does the library reopen?"
ANSWER = "In <b>March</b> & [soon](javascript:alert(1))"
DROPPED = "buy cheap watches"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fill(path: str) -> Store:
    """A database as the server leaves it: one conference with a published
    question, its answer and a dropped message; another one still empty.
    Returns the store, still open (as a running server would keep it)."""
    store = Store(path)
    store.open()
    hall = Conference(ConferenceConfig(channel="#TownHall", title="Ask the mayor", moderators=("moda",), state="live"))
    hall.record(T0 - 60, "admin", "create", None, title="Ask the mayor")
    q = hall.queue.submit("alice", "alice!~alice@198.51.100.7", QUESTION, T0)
    hall.record(T0, "alice", "submit", q.id, text=q.text)
    spam = hall.queue.submit("bob", "bob!~bob@198.51.100.8", DROPPED, T0 + 1)
    hall.record(T0 + 1, "bob", "submit", spam.id, text=spam.text)
    hall.queue.approve(q.id, "moda", T0 + 5)
    hall.record(T0 + 5, "moda", "approve", q.id, wait=5.0)
    q.msgid = "m-q1"
    hall.add_publication(Publication(q.msgid, q.author_prefix, q.text, T0 + 5, {"confchat/item": str(q.id)}, "PRIVMSG", q.id))
    hall.queue.drop(spam.id, "moda", T0 + 6, "advertising")
    hall.record(T0 + 6, "moda", "drop", spam.id, reason="advertising", wait=5.0)
    store.write([take_rows(hall)])
    hall.add_publication(Publication("m-a1", "mayor!~mayor@192.0.2.1", ANSWER, T0 + 9,
                                     {"+draft/reply": q.msgid, "confchat/item": str(q.id)}))
    hall.record(T0 + 9, "mayor", "answer", q.id, msgid="m-a1", text=ANSWER)
    budget = Conference(ConferenceConfig(channel="#budget", title="Budget night"))
    budget.record(T0, "admin", "create", None, title="Budget night")
    store.write([take_rows(hall), take_rows(budget)])
    return store


@pytest.fixture
def data_dir(tmp_path):
    directory = tmp_path / "data"
    fill(str(directory / "confchat.sqlite3")).close()
    return str(directory)


def export(capsys, *args):
    status = main(["export", *args])
    out, err = capsys.readouterr()
    return status, out, err


def no_addresses(text: str) -> bool:
    return "198.51.100." not in text and "192.0.2." not in text and "~alice" not in text


# ---------------------------------------------------------------- formats


def test_json_to_stdout(capsys, data_dir):
    status, out, err = export(capsys, "#TownHall", "--data-dir", data_dir, "--format", "json")
    assert (status, err) == (0, "")
    t = json.loads(out)
    assert t["internal"] is False
    assert t["conference"]["channel"] == "#TownHall" and t["conference"]["title"] == "Ask the mayor"
    assert [(m["kind"], m["author"], m["text"], m["time"]) for m in t["messages"]] == [
        ("question", "alice", QUESTION, iso(T0 + 5)),
        ("answer", "mayor", ANSWER, iso(T0 + 9)),
    ]
    assert t["messages"][1]["reply_to"] == "m-q1"
    assert not {"audit", "items", "deleted"} & set(t)
    assert DROPPED not in out and no_addresses(out)


def test_html_to_stdout(capsys, data_dir):
    status, out, err = export(capsys, "#TownHall", "--data-dir", data_dir, "--format", "html")
    assert (status, err) == (0, "")
    assert out.startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")
    assert '<html lang="en">' in out
    assert QUESTION in out
    assert "In &lt;b&gt;March&lt;/b&gt; &amp; [soon](javascript:alert(1))" in out
    assert "<b>" not in out and 'href="javascript' not in out
    assert 'href="#m-m-q1"' in out
    assert DROPPED not in out and no_addresses(out)


def test_markdown_to_stdout(capsys, data_dir):
    status, out, err = export(capsys, "#TownHall", "--data-dir", data_dir, "--format", "md")
    assert (status, err) == (0, "")
    assert out.startswith("# Transcript: Ask the mayor\n")
    assert QUESTION in out
    assert "In &lt;b&gt;March&lt;/b&gt; &amp; \\[soon\\]\\(javascript:alert\\(1\\)\\)" in out
    assert "<" not in out
    assert DROPPED not in out and no_addresses(out.replace("\\", ""))


def test_text_to_stdout(capsys, data_dir):
    status, out, err = export(capsys, "#TownHall", "--data-dir", data_dir, "--format", "txt")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "Transcript: Ask the mayor"
    assert f"[{iso(T0 + 5)}] alice (question): {QUESTION}" in lines
    assert f"    [{iso(T0 + 9)}] mayor (answer): {ANSWER}" in lines
    assert DROPPED not in out and no_addresses(out)


def test_html_is_the_default_format(capsys, data_dir):
    status, out, err = export(capsys, "#TownHall", "--data-dir", data_dir)
    assert (status, err) == (0, "")
    assert out.startswith("<!DOCTYPE html>") and QUESTION in out


def test_conference_name_is_case_insensitive(capsys, data_dir):
    outputs = []
    for name in ("#TownHall", "#townhall", "#TOWNHALL"):
        status, out, err = export(capsys, name, "--data-dir", data_dir, "--format", "json")
        assert (status, err) == (0, ""), name
        t = json.loads(out)
        del t["generated"]
        outputs.append(t)
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0]["messages"]


def test_output_file(capsys, data_dir, tmp_path):
    target = tmp_path / "townhall.html"
    status, out, err = export(capsys, "#townhall", "--data-dir", data_dir, "--output", str(target))
    assert (status, out, err) == (0, "", "")
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and QUESTION in text
    status, out, err = export(capsys, "#townhall", "--data-dir", data_dir, "-o", str(target), "--format", "txt")
    assert (status, out) == (0, "")
    assert target.read_text(encoding="utf-8").startswith("Transcript: Ask the mayor\n")  # replaced


def test_export_while_the_server_holds_the_database(capsys, tmp_path):
    directory = tmp_path / "live"
    server_store = fill(str(directory / "confchat.sqlite3"))
    try:
        status, out, err = export(capsys, "#townhall", "--data-dir", str(directory), "--format", "json")
    finally:
        server_store.close()
    assert (status, err) == (0, "")
    assert [m["text"] for m in json.loads(out)["messages"]] == [QUESTION, ANSWER]


# ---------------------------------------------------------------- internal


def test_internal_archive(capsys, data_dir):
    status, out, err = export(capsys, "#TownHall", "--data-dir", data_dir, "--format", "json", "--internal")
    assert (status, err) == (0, "")
    t = json.loads(out)
    assert t["internal"] is True
    assert [(a["actor"], a["action"], a["item"]) for a in t["audit"]] == [
        ("admin", "create", None), ("alice", "submit", 1), ("bob", "submit", 2),
        ("moda", "approve", 1), ("moda", "drop", 2), ("mayor", "answer", 1),
    ]
    assert t["audit"][4]["detail"] == {"reason": "advertising", "wait": 5.0}
    assert t["audit"][4]["time"] == iso(T0 + 6)
    items = {i["id"]: (i["state"], i["decided_by"], i["reason"], i["text"], i["address"]) for i in t["items"]}
    assert items == {
        1: ("published", "moda", "", QUESTION, "alice!~alice@198.51.100.7"),
        2: ("dropped", "moda", "advertising", DROPPED, "bob!~bob@198.51.100.8"),
    }


@pytest.mark.parametrize("fmt", ["html", "md", "txt"])
def test_internal_archive_in_other_formats(capsys, data_dir, fmt):
    status, out, err = export(capsys, "#TownHall", "--data-dir", data_dir, "--format", fmt, "--internal")
    assert (status, err) == (0, "")
    assert "Audit log" in out and "Internal archive" in out
    assert DROPPED in out and "advertising" in out
    assert "198.51.100.8" in out.replace("\\", "")


# ---------------------------------------------------------------- list, config


def test_list(capsys, data_dir):
    status, out, err = export(capsys, "list", "--data-dir", data_dir)
    assert (status, err) == (0, "")
    assert out.splitlines() == ["#budget", "#TownHall"]


def test_list_of_an_empty_database(capsys, tmp_path):
    store = Store(str(tmp_path / "confchat.sqlite3"))
    store.open()
    store.close()
    status, out, err = export(capsys, "list", "--data-dir", str(tmp_path))
    assert (status, out, err) == (0, "", "")


def test_empty_conference(capsys, data_dir):
    status, out, err = export(capsys, "#budget", "--data-dir", data_dir, "--format", "txt")
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == "Transcript: Budget night"
    assert "Nothing was published." in out


def test_config_file_gives_data_dir_and_branding(capsys, data_dir, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        f"[server]\ndata_dir = {json.dumps(data_dir)}\n\n"
        '[branding]\norganisation = "Ville de <Lyon>"\nlanguage = "fr"\ncolour = "#c0ffee"\n',
        encoding="utf-8",
    )
    status, out, err = export(capsys, "#townhall", "--config", str(config))
    assert (status, err) == (0, "")
    assert '<html lang="fr">' in out
    assert "Transcription: Ask the mayor" in out and "Transcript:" not in out
    assert "Ville de &lt;Lyon&gt;" in out
    assert "--brand:#c0ffee" in out


def test_data_dir_option_overrides_the_config_file(capsys, data_dir, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f"[server]\ndata_dir = {json.dumps(str(tmp_path / 'elsewhere'))}\n", encoding="utf-8")
    status, out, err = export(capsys, "#townhall", "--config", str(config), "--data-dir", data_dir, "--format", "txt")
    assert (status, err) == (0, "")
    assert QUESTION in out


def test_storage_path_from_the_config_file(capsys, tmp_path):
    fill(str(tmp_path / "d" / "events.db")).close()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\ndata_dir = {json.dumps(str(tmp_path / "d"))}\n\n[storage]\npath = "events.db"\n', encoding="utf-8"
    )
    status, out, err = export(capsys, "list", "--config", str(config))
    assert (status, err) == (0, "")
    assert out.splitlines() == ["#budget", "#TownHall"]


# ---------------------------------------------------------------- errors


def test_unknown_conference(capsys, data_dir, tmp_path):
    target = tmp_path / "out.html"
    status, out, err = export(capsys, "#nope", "--data-dir", data_dir, "--output", str(target))
    assert status == 1
    assert out == ""
    assert err.startswith("confchat: ") and err.count("\n") == 1
    assert "no conference #nope" in err
    assert "export list" in err  # says how to find the right name
    assert not target.exists()


def test_missing_database(capsys, tmp_path):
    empty = tmp_path / "nothing-here"
    for args in (["#townhall"], ["list"]):
        status, out, err = export(capsys, *args, "--data-dir", str(empty))
        assert status == 1, args
        assert out == ""
        assert err.startswith("confchat: no database at ") and err.count("\n") == 1
        assert str(empty / "confchat.sqlite3") in err
        assert "--data-dir" in err  # says how to point at the right one
    assert not empty.exists()  # looking did not create anything


def test_damaged_database(capsys, tmp_path):
    (tmp_path / "confchat.sqlite3").write_bytes(b"this is not a database, just text " * 200)
    status, out, err = export(capsys, "#townhall", "--data-dir", str(tmp_path))
    assert status == 1
    assert out == ""
    assert err.startswith("confchat: ") and err.count("\n") == 1 and "Traceback" not in err
    assert str(tmp_path / "confchat.sqlite3") in err


def test_bad_config_file(capsys, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[branding]\nlanguage = "de"\n', encoding="utf-8")
    status, out, err = export(capsys, "#townhall", "--config", str(config))
    assert status == 2
    assert err.startswith("confchat: config error: ") and "language" in err


def test_unknown_format(capsys, data_dir):
    status, out, err = export(capsys, "#townhall", "--data-dir", data_dir, "--format", "pdf")
    assert status == 2
    assert out == "" and "pdf" in err


def test_unwritable_output(capsys, data_dir, tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "t.html"
    status, out, err = export(capsys, "#townhall", "--data-dir", data_dir, "--output", str(target))
    assert status == 1
    assert err.startswith("confchat: ") and str(target) in err
