"""The confchat command, run in process through main() (and twice for real)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from argon2 import PasswordHasher

import confchat
from confchat import cli
from confchat.cli import main
from confchat.config import Config, load


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"confchat {confchat.__version__}\n"


def test_version_falls_back_to_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise cli.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(cli.metadata, "version", not_installed)
    monkeypatch.setattr(confchat, "__version__", "9.8.7")
    assert cli.version() == "9.8.7"


def test_python_dash_m_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "confchat", "--version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"confchat {confchat.__version__}\n"


def test_installed_script_version() -> None:
    script = Path(sys.executable).with_name("confchat")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable}")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"confchat {confchat.__version__}\n"


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "required: COMMAND" in capsys.readouterr().err


# --- serve: only the config-error paths (the server itself is app.py's) -------


def test_serve_config_error_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[limits]\nmax_sendq = -5\n")
    assert main(["serve", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"confchat: config error: {path}: limits.max_sendq: expected a positive integer, got -5\n"
    )


def test_serve_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "missing.toml"
    assert main(["serve", "--config", str(path)]) == 2
    assert capsys.readouterr().err == f"confchat: config error: {path}: file not found\n"


def test_serve_toml_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server\n")
    assert main(["serve", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"confchat: config error: {path}:1:")
    assert "invalid TOML" in err
    assert "Traceback" not in err


def test_serve_bad_tcp_option_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--tcp", "127.0.0.1:6667", "--tcp", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert 'argument --tcp: expected "host:port", got "nonsense"' in err
    assert "Traceback" not in err


def test_serve_bad_http_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--http", "::1:8080"]) == 2
    assert "argument --http: expected" in capsys.readouterr().err


def test_serve_bad_name_override_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--name", "two words"]) == 2
    assert capsys.readouterr().err == (
        'confchat: config error: server.name: expected a server name without spaces, '
        'got "two words"\n'
    )


def test_serve_bad_log_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--log-format", "xml"]) == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err


# --- init ---------------------------------------------------------------------------


def run_init(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    """Run init; return the password it printed."""
    assert main(["init", "--path", str(path), *extra]) == 0
    out = capsys.readouterr().out
    assert f"Wrote {path}." in out
    assert "Keep this password somewhere safe" in out
    lines = [line.strip() for line in out.splitlines()]
    password = lines[lines.index("") + 1]  # the indented line after the blank one
    assert len(password) == 24  # secrets.token_urlsafe(18)
    return password


def test_init_writes_the_defaults_and_one_oper(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    password = run_init(path, capsys)
    config = load(path)
    assert attrs.evolve(config, opers=()) == Config()
    assert [oper.name for oper in config.opers] == ["admin"]
    assert config.opers[0].password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(config.opers[0].password_hash, password)
    text = path.read_text()
    assert password not in text
    assert "# Message of the day" in text  # commented


def test_init_file_is_private(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    run_init(path, capsys)
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# mine\n")
    assert main(["init", "--path", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""  # no password printed for a file that was not written
    assert err == f"confchat: {path} already exists; use --force to overwrite it\n"
    assert path.read_text() == "# mine\n"


def test_init_force_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    first = run_init(path, capsys)
    second = run_init(path, capsys, "--force")
    assert first != second
    assert PasswordHasher().verify(load(path).opers[0].password_hash, second)


def test_init_into_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "no" / "such" / "config.toml"
    assert main(["init", "--path", str(path)]) == 1
    assert capsys.readouterr().err == (
        f"confchat: cannot write {path}: No such file or directory\n"
    )


def test_init_default_path_is_config_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert "Wrote config.toml." in capsys.readouterr().out
    assert load(tmp_path / "config.toml").opers[0].name == "admin"


# --- passwd -------------------------------------------------------------------------


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_passwd_reads_one_line_from_a_pipe(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret with spaces \nsecond line\n"))
    assert main(["passwd"]) == 0
    out = capsys.readouterr().out
    hashed = out.strip()
    assert out == hashed + "\n"  # only the hash: usable as $(confchat passwd)
    assert hashed.startswith("$argon2id$")
    assert PasswordHasher().verify(hashed, "s3cret with spaces ")


def test_passwd_asks_twice_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return "typed"

    monkeypatch.setattr(sys, "stdin", FakeTty())
    monkeypatch.setattr(cli.getpass, "getpass", fake_getpass)
    assert main(["passwd"]) == 0
    assert prompts == ["Password: ", "Again: "]
    assert PasswordHasher().verify(capsys.readouterr().out.strip(), "typed")


def test_passwd_mismatch_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["one", "two"])
    monkeypatch.setattr(sys, "stdin", FakeTty())
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt="": next(answers))
    assert main(["passwd"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "confchat: the passwords do not match\n"


def test_passwd_refuses_an_empty_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["passwd"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "confchat: no password given\n"


def test_passwd_through_a_real_pipe() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "confchat", "passwd"],
        input="piped\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert result.returncode == 0, result.stderr
    assert PasswordHasher().verify(result.stdout.strip(), "piped")


def test_ctrl_c_exits_130_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(prompt: str = "") -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(sys, "stdin", FakeTty())
    monkeypatch.setattr(cli.getpass, "getpass", interrupted)
    assert main(["passwd"]) == 130
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
