"""A hypothesis state machine over the line codec: a byte stream of lines,
garbage, invalid UTF-8 and over-long runs, cut anywhere and fed to one
LineDecoder piece by piece.

Checked after every piece: the lines out are those of a plain model (split
the whole stream on LF; a line over the limit is one LineTooLong, reported
as soon as the buffer passes the limit), however the stream was cut; the
buffer never holds more than ``max_line`` bytes; decode_line raises nothing
but the codec's ProtocolError subclasses; and what it accepts serializes
to a line that decodes to the same Message.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from confchat.proto.codec import (
    MAX_BODY_BYTES,
    MAX_LINE_BYTES,
    MAX_TAGS_BYTES,
    BodyTooLong,
    InvalidUtf8,
    LineDecoder,
    LineTooLong,
    MalformedLine,
    ProtocolError,
    TagsTooLong,
    decode_line,
    format_line,
    serialize,
)
from confchat.proto.message import Message

from test_codec_properties import messages

CODEC_ERRORS = (MalformedLine, InvalidUtf8, LineTooLong, BodyTooLong, TagsTooLong)
TOO_LONG = "<LineTooLong>"

# Pieces of a stream: whole lines a client might send, and what a broken or
# hostile one sends instead.
_valid = messages().map(serialize)
_words = st.sampled_from([
    b"PRIVMSG #townhall :hi", b"NICK carol", b"@label=1 PING x", b"QUEUE #t APPROVE 1,2", b":src JOIN #t",
    b"@", b":", b" ", b"@a", b"@a=\\", b"\r", b"\n", b"\r\n", b"\x00", b"\xff\xfe", b"\xc3", b"\xc3\xa9", b"\xed\xa0\x80",
    "Straße 橋 🚋".encode(), b"CAP LS 302\r\n", b"\r\r\n", b"\t", b"\x1b[31m",
])
_garbage = st.binary(max_size=40)
# Long runs without (or with) a line ending, near and past the limits.
_runs = st.builds(
    lambda byte, n, end: byte * n + end,
    st.sampled_from([b"x", b" ", b"\xff", b"a;", b"@"]),
    st.sampled_from([10, 200, MAX_BODY_BYTES - 3, MAX_BODY_BYTES, MAX_TAGS_BYTES, MAX_LINE_BYTES - 1,
                     MAX_LINE_BYTES, MAX_LINE_BYTES + 1, 2 * MAX_LINE_BYTES + 7]),
    st.sampled_from([b"", b"\n", b"\r\n"]),
)
pieces = st.lists(st.one_of(_valid, _words, _garbage, _runs), min_size=1, max_size=6).map(b"".join)


def model(stream: bytes, max_line: int) -> list[bytes | str]:
    """What a decoder fed ``stream`` (in any cuts) has returned in all."""
    *complete, tail = stream.split(b"\n")
    out: list[bytes | str] = [TOO_LONG if len(line) > max_line else line for line in complete]
    if len(tail) > max_line:
        out.append(TOO_LONG)  # reported before its end arrives
    return out


def decoded(raw: bytes) -> Message | None | ProtocolError:
    """decode_line's answer; any exception but the codec's escapes."""
    try:
        return decode_line(raw)
    except ProtocolError as exc:
        assert isinstance(exc, CODEC_ERRORS), repr(exc)
        assert isinstance(exc.command, str) and exc.command
        return exc


def canonical(msg: Message) -> bool:
    """Messages whose line decodes back to them. Two kinds do not (see the
    xfail tests below): an empty source (``: CMD``) and a command that
    starts with ``@`` (`` @x``, with a leading space)."""
    return msg.source != "" and not msg.command.startswith("@")


class CodecMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.decoder = LineDecoder()
        self.stream = bytearray()
        self.out: list[bytes | str] = []
        self.accepted = 0

    @initialize(max_line=st.sampled_from([16, MAX_BODY_BYTES, MAX_LINE_BYTES]))
    def limit(self, max_line: int) -> None:
        self.decoder = LineDecoder(max_line)

    def feed(self, data: bytes) -> None:
        self.stream += data
        for item in self.decoder.feed(data):
            if isinstance(item, LineTooLong):
                self.out.append(TOO_LONG)
                continue
            assert isinstance(item, bytes) and b"\n" not in item
            assert len(item) <= self.decoder.max_line
            self.out.append(item)
            self.check_line(item)

    def check_line(self, raw: bytes) -> None:
        result = decoded(raw)
        if not isinstance(result, Message):
            return
        self.accepted += 1
        body = raw.rstrip(b"\r")
        assert b"\x00" not in body and b"\r" not in body
        body.decode("utf-8")  # accepted lines are UTF-8
        line = format_line(result)  # strict: a parsed message is always formattable
        again = serialize(result)
        assert again == line.encode("utf-8") + b"\r\n"
        if canonical(result):
            assert decode_line(again[:-2]) == result, (raw, again)

    @rule(data=pieces)
    def feed_whole(self, data: bytes) -> None:
        self.feed(data)

    @rule(data=pieces, cuts=st.lists(st.integers(min_value=0, max_value=2**16), max_size=8))
    def feed_cut(self, data: bytes, cuts: list[int]) -> None:
        points = sorted({c % (len(data) + 1) for c in cuts})
        start = 0
        for point in [*points, len(data)]:
            self.feed(data[start:point])
            start = point

    @rule(data=pieces)
    def feed_bytewise(self, data: bytes) -> None:
        for i in range(min(len(data), 300)):
            self.feed(data[i:i + 1])
        self.feed(data[300:])

    @rule()
    def feed_nothing(self) -> None:
        assert self.decoder.feed(b"") == []

    @invariant()
    def lines_are_the_models_whatever_the_cuts(self) -> None:
        assert self.out == model(bytes(self.stream), self.decoder.max_line)

    @invariant()
    def buffering_is_bounded(self) -> None:
        assert len(self.decoder._buf) <= self.decoder.max_line


CodecMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TestCodecMachine = CodecMachine.TestCase


# Lines the decoder accepts whose Message does not survive serialize and
# decode again. Harmless for the server (it never relays a client's source
# or command as sent), but the codec is not an identity on them; strict, so
# that a fix shows up here.


@pytest.mark.xfail(strict=True, reason="an empty source becomes no source")
def test_an_empty_source_round_trips():
    msg = decode_line(b": PRIVMSG #t :hi")
    assert decode_line(serialize(msg)[:-2]) == msg


@pytest.mark.xfail(strict=True, reason="a command starting with @ is read back as a tag section")
def test_a_command_starting_with_an_at_sign_round_trips():
    msg = decode_line(b" @x PRIVMSG")
    assert decode_line(serialize(msg)[:-2]) == msg
