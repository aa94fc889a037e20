"""The ircdocs parser test vectors (PyPI ``irc-parser-tests``), every one of them."""

from __future__ import annotations

import pytest
from parser_tests.data import mask_match as MASK_MATCH
from parser_tests.data import msg_join as MSG_JOIN
from parser_tests.data import msg_split as MSG_SPLIT

from confchat.proto.casemap import mask_match
from confchat.proto.codec import parse_line, serialize
from confchat.proto.message import Message


def _vector_ids(vectors, key):
    return [f"{i:02d}:{v.get(key, '')!r}"[:80] for i, v in enumerate(vectors)]


SPLIT = MSG_SPLIT["tests"]
JOIN = MSG_JOIN["tests"]
MASKS = MASK_MATCH["tests"]
MASK_CASES = [
    pytest.param(t["mask"], text, expected, id=f"{i:02d}:{t['mask']}:{'match' if expected else 'fail'}:{text}")
    for i, t in enumerate(MASKS)
    for expected, texts in ((True, t.get("matches", [])), (False, t.get("fails", [])))
    for text in texts
]


def test_vectors_are_loaded():
    # Guard against a packaging change silently turning the suites below empty.
    assert len(SPLIT) >= 30 and len(JOIN) >= 15 and len(MASK_CASES) >= 20


@pytest.mark.parametrize("vector", SPLIT, ids=_vector_ids(SPLIT, "input"))
def test_msg_split(vector):
    atoms = vector["atoms"]
    msg = parse_line(vector["input"])
    assert dict(msg.tags) == atoms.get("tags", {})
    assert msg.source == atoms.get("source")
    assert msg.command == atoms["verb"]
    assert list(msg.params) == atoms.get("params", [])


@pytest.mark.parametrize("vector", JOIN, ids=_vector_ids(JOIN, "desc"))
def test_msg_join(vector):
    atoms = vector["atoms"]
    msg = Message(atoms["verb"], atoms.get("params", []), atoms.get("source"), atoms.get("tags", {}))
    data = serialize(msg)
    assert data.endswith(b"\r\n")
    assert data[:-2].decode("utf-8") in vector["matches"]


@pytest.mark.parametrize(("mask", "text", "expected"), MASK_CASES)
def test_mask_match(mask, text, expected):
    assert mask_match(mask, text) is expected
