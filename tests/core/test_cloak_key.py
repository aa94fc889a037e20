"""The shell's part of cloaking: the key made once in the data directory
and read back on every start (app.py:cloak_key)."""

from __future__ import annotations

import os
import stat

import pytest

from confchat.app import CLOAK_KEY_FILE, cloak_key
from confchat.config import ConfigError
from confchat.core.cloak import KEY_BYTES


def test_the_key_is_made_on_the_first_start_readable_by_its_owner_only(tmp_path):
    key = cloak_key(str(tmp_path))
    path = tmp_path / CLOAK_KEY_FILE
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert bytes.fromhex(path.read_text().strip()) == key


def test_the_key_is_kept_across_starts(tmp_path):
    assert cloak_key(str(tmp_path)) == cloak_key(str(tmp_path))
    other = tmp_path / "other"
    other.mkdir()
    assert cloak_key(str(other)) != cloak_key(str(tmp_path))  # another data directory, another key


@pytest.mark.parametrize("content,problem", [("not hex at all\n", "not a cloak key"), ("abcd\n", "too short")])
def test_a_damaged_key_file_is_an_error_that_names_it(tmp_path, content, problem):
    (tmp_path / CLOAK_KEY_FILE).write_text(content)
    with pytest.raises(ConfigError, match=problem) as raised:
        cloak_key(str(tmp_path))
    assert CLOAK_KEY_FILE in str(raised.value)
    assert (tmp_path / CLOAK_KEY_FILE).read_text() == content  # left for the operator to look at
