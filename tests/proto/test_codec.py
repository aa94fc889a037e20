"""decode_line limits and errors, and the incremental LineDecoder."""

from __future__ import annotations

import pytest

from confchat.proto.codec import (
    MAX_LINE_BYTES,
    BodyTooLong,
    InvalidUtf8,
    LineDecoder,
    LineTooLong,
    MalformedLine,
    ProtocolError,
    TagsTooLong,
    decode_line,
    format_line,
    parse_line,
)
from confchat.proto.message import Message


def privmsg_body(total_with_crlf: int) -> bytes:
    """A PRIVMSG line whose body plus CRLF is exactly ``total_with_crlf`` bytes."""
    head = b"PRIVMSG #chan :"
    return head + b"x" * (total_with_crlf - 2 - len(head))


# ---------------------------------------------------------------- decode_line


def test_decode_plain_line():
    assert decode_line(b"PRIVMSG #chan :hello world") == Message("PRIVMSG", ["#chan", "hello world"])


def test_decode_strips_one_trailing_cr():
    assert decode_line(b"PING token\r") == Message("PING", ["token"])


def test_body_of_512_bytes_including_crlf_is_accepted():
    raw = privmsg_body(512)
    assert len(raw) + 2 == 512
    msg = decode_line(raw + b"\r")  # a CR still attached does not count twice
    assert msg is not None and msg.params[1] == "x" * (510 - len(b"PRIVMSG #chan :"))
    assert decode_line(raw) is not None


@pytest.mark.parametrize("total", [513, 514, 600, 5000])
def test_body_over_512_bytes_is_rejected(total):
    with pytest.raises(BodyTooLong) as info:
        decode_line(privmsg_body(total))
    assert info.value.command == "PRIVMSG"


def test_tags_do_not_count_against_the_body_limit():
    tags = b"@+example=" + b"v" * 1000 + b" "
    msg = decode_line(tags + privmsg_body(512))
    assert msg is not None and msg.tags["+example"] == "v" * 1000


def tag_section(data_len: int) -> bytes:
    """``@<tag data> `` with exactly ``data_len`` bytes of tag data."""
    data = b"+a=" + b"v" * (data_len - 3)
    assert len(data) == data_len
    return b"@" + data + b" "


def test_client_tag_data_of_4094_bytes_is_accepted():
    msg = decode_line(tag_section(4094) + b"TAGMSG #chan")
    assert msg is not None and len(msg.tags["+a"]) == 4091


@pytest.mark.parametrize("data_len", [4095, 4200, 8000, 9000])
def test_client_tag_data_over_4094_bytes_is_rejected(data_len):
    with pytest.raises(TagsTooLong) as info:
        decode_line(tag_section(data_len) + b"TAGMSG #chan")
    assert info.value.command == "TAGMSG"


def test_invalid_utf8_is_rejected_with_the_command_guessed():
    with pytest.raises(InvalidUtf8) as info:
        decode_line(b"PRIVMSG #a :\xff")
    assert info.value.command == "PRIVMSG"
    assert info.value.code == "INVALID_UTF8"


def test_invalid_utf8_command_is_guessed_past_tags_and_source():
    with pytest.raises(InvalidUtf8) as info:
        decode_line(b"@+x=1 :me!u@h notice #a :caf\xe9")
    assert info.value.command == "NOTICE"


def test_invalid_utf8_in_the_command_itself_gives_star():
    with pytest.raises(InvalidUtf8) as info:
        decode_line(b"PRIV\xffMSG #a :x")
    assert info.value.command == "*"


def test_nul_byte_is_malformed():
    with pytest.raises(MalformedLine) as info:
        decode_line(b"PRIVMSG #a :nul\x00here")
    assert info.value.command == "PRIVMSG"


@pytest.mark.parametrize("raw", [b"", b"\r", b"   ", b"  \r"])
def test_blank_line_is_ignored(raw):
    assert decode_line(raw) is None


@pytest.mark.parametrize("raw", [b"@a=b", b"@a=b ", b":source", b":source   "])
def test_line_without_a_command_is_malformed(raw):
    with pytest.raises(MalformedLine):
        decode_line(raw)


def test_protocol_errors_share_a_base_class():
    for exc in (BodyTooLong, TagsTooLong, InvalidUtf8, MalformedLine, LineTooLong):
        assert issubclass(exc, ProtocolError)


def test_format_line_refuses_a_middle_param_that_cannot_be_middle():
    for bad in ("", "a b", ":x"):
        with pytest.raises(ValueError):
            format_line(Message("PRIVMSG", [bad, "text"]))


def test_parse_line_tolerates_crlf():
    assert parse_line("PING x\r\n") == Message("PING", ["x"])


# ---------------------------------------------------------------- LineDecoder


def test_feed_handles_crlf_and_bare_lf():
    dec = LineDecoder()
    assert dec.feed(b"PING a\r\nPING b\nPING c\r\n") == [b"PING a\r", b"PING b", b"PING c\r"]
    # what the decoder yields, decode_line accepts (CR stripped there)
    assert [decode_line(x) for x in dec.feed(b"NICK x\r\nNICK y\n")] == [
        Message("NICK", ["x"]),
        Message("NICK", ["y"]),
    ]


def test_lines_split_across_feeds_are_reassembled():
    dec = LineDecoder()
    assert dec.feed(b"PRIV") == []
    assert dec.feed(b"MSG #a :hel") == []
    assert dec.feed(b"lo\r") == []
    assert dec.feed(b"\nPI") == [b"PRIVMSG #a :hello\r"]
    assert dec.feed(b"NG x\n") == [b"PING x"]


def test_byte_at_a_time():
    dec = LineDecoder()
    out = []
    for byte in b"NICK a\r\nUSER u 0 * :r\n":
        out += dec.feed(bytes([byte]))
    assert out == [b"NICK a\r", b"USER u 0 * :r"]


def test_endless_line_is_discarded_and_reported_once_then_decoder_resumes():
    dec = LineDecoder(max_line=100)
    reports = []
    for _ in range(50):
        reports += dec.feed(b"x" * 37)
        assert len(dec._buf) <= 100
    assert len(reports) == 1 and isinstance(reports[0], LineTooLong)
    # the end of the junk line produces nothing, the next line comes through
    assert dec.feed(b"xxx\r\nPING ok\r\n") == [b"PING ok\r"]
    assert dec.feed(b"PING again\n") == [b"PING again"]


def test_overlong_line_arriving_in_one_piece_is_reported():
    dec = LineDecoder(max_line=100)
    out = dec.feed(b"y" * 300 + b"\nPING ok\n")
    assert len(out) == 2
    assert isinstance(out[0], LineTooLong)
    assert out[1] == b"PING ok"
    assert len(dec._buf) <= 100


def test_line_of_exactly_max_line_bytes_is_kept():
    dec = LineDecoder(max_line=100)
    assert dec.feed(b"z" * 100) == []
    assert dec.feed(b"\n") == [b"z" * 100]


def test_second_endless_line_is_reported_again():
    dec = LineDecoder(max_line=50)
    first = dec.feed(b"a" * 80)
    dec.feed(b"\n")
    second = dec.feed(b"b" * 80)
    assert len(first) == 1 and isinstance(first[0], LineTooLong)
    assert len(second) == 1 and isinstance(second[0], LineTooLong)


def test_buffer_never_exceeds_max_line_under_mixed_input():
    dec = LineDecoder(max_line=64)
    chunks = [b"PING a\n", b"q" * 63, b"q" * 10, b"\nPING b", b"\n", b"r" * 200, b"s" * 5, b"\r\n"]
    got = []
    for chunk in chunks:
        got += dec.feed(chunk)
        assert len(dec._buf) <= 64
    lines = [x for x in got if isinstance(x, bytes)]
    reports = [x for x in got if isinstance(x, LineTooLong)]
    assert lines == [b"PING a", b"PING b"]
    assert len(reports) == 2


def test_default_max_line_holds_full_tags_and_full_body():
    dec = LineDecoder()
    assert dec.max_line == MAX_LINE_BYTES
    line = tag_section(4094) + privmsg_body(512)
    assert dec.feed(line + b"\r\n") == [line + b"\r"]
    assert decode_line(line) is not None


# ---------------------------------------------------------------- embedded CR

def _has_cr(msg: Message) -> bool:
    parts = [msg.command, msg.source or "", *msg.params, *msg.tags.keys(), *msg.tags.values()]
    return any("\r" in part for part in parts)


@pytest.mark.parametrize(
    "raw",
    [
        b"PRIVMSG bob :hi\r:confchat.local 381 bob :You are now an IRC operator",
        b"PRIVMSG bo\rb :hi",
        b"@+x\ry=1 TAGMSG bob",
    ],
    ids=["trailing", "middle", "tag-key"],
)
def test_cr_inside_a_line_is_rejected_or_removed(raw):
    try:
        msg = decode_line(raw)
    except ProtocolError:
        return
    assert msg is not None and not _has_cr(msg)
