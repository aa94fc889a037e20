"""The IRC line codec: bytes in, :class:`Message` out, and back.

Follows RFC 1459 (several spaces separate atoms), RFC 2812 and IRCv3
message-tags (escaping, the tag-section limit). Lines end in CRLF or a bare LF.

Limits, per the specs (both are enforced on input; see ``LineDecoder``):

* ``MAX_BODY_BYTES``: RFC 1459 section 2.3 caps a message at 512 bytes
  *including* the trailing CRLF; the tag section does not count against it.
* ``MAX_TAGS_BYTES``: IRCv3 message-tags caps the tag section at 8191 bytes
  including the leading ``@`` and the trailing space; tags a client sends are
  capped at 4094 bytes of tag data.
"""

from __future__ import annotations

from typing import Mapping

from .message import Message

MAX_BODY_BYTES = 512
MAX_TAGS_BYTES = 8191
MAX_CLIENT_TAG_DATA = 4094
# A whole line may hold a full tag section and a full body; anything longer is
# discarded by the decoder before it is ever split into atoms.
MAX_LINE_BYTES = MAX_TAGS_BYTES + MAX_BODY_BYTES


class ProtocolError(Exception):
    """A line that cannot be accepted. ``command`` is the verb when known."""

    code = "INVALID_LINE"

    def __init__(self, message: str, command: str = "*") -> None:
        super().__init__(message)
        self.command = command


class MalformedLine(ProtocolError):
    code = "MALFORMED_LINE"


class InvalidUtf8(ProtocolError):
    code = "INVALID_UTF8"


class LineTooLong(ProtocolError):
    """The whole line was over ``MAX_LINE_BYTES``; it was discarded unseen."""

    code = "LINE_TOO_LONG"


class BodyTooLong(ProtocolError):
    code = "INPUT_TOO_LONG"


class TagsTooLong(ProtocolError):
    code = "TAGS_TOO_LONG"


_UNESCAPE = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPE = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})


def unescape_tag_value(value: str) -> str:
    if "\\" not in value:
        return value
    out = []
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if ch == "\\":
            i += 1
            if i < n:
                nxt = value[i]
                out.append(_UNESCAPE.get(nxt, nxt))
            # a lone trailing backslash is dropped (message-tags spec)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def escape_tag_value(value: str) -> str:
    return value.translate(_ESCAPE)


def parse_tags(section: str) -> dict[str, str]:
    """Parse the tag section without its leading ``@``. Later keys win."""
    tags: dict[str, str] = {}
    for item in section.split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        if not key:
            continue
        tags[key] = unescape_tag_value(value)
    return tags


def serialize_tags(tags: Mapping[str, str]) -> str:
    return ";".join(
        f"{key}={escape_tag_value(value)}" if value else key for key, value in tags.items()
    )


def _split_atoms(text: str) -> tuple[str | None, str, list[str]]:
    """Split ``[:source] command params... [:trailing]`` (tags already removed)."""
    source = None
    rest = text.lstrip(" ")
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    command, _, rest = rest.partition(" ")
    if not command:
        raise MalformedLine("No command given")
    params: list[str] = []
    while rest:
        rest = rest.lstrip(" ")
        if not rest:
            break
        if rest.startswith(":"):
            params.append(rest[1:])
            break
        param, _, rest = rest.partition(" ")
        params.append(param)
    return source, command, params


def parse_line(line: str) -> Message:
    """Parse one line (without its line ending) into a :class:`Message`.

    Raises :class:`MalformedLine` for a line with no command. Trailing CR/LF are
    tolerated so that callers may pass a raw line as received.
    """
    line = line.rstrip("\r\n")
    tags: dict[str, str] = {}
    if line.startswith("@"):
        section, _, line = line[1:].partition(" ")
        tags = parse_tags(section)
    source, command, params = _split_atoms(line)
    return Message(command, params, source, tags)


def serialize(msg: Message) -> bytes:
    """Encode ``msg`` as one CRLF-terminated UTF-8 line."""
    return format_line(msg).encode("utf-8", "surrogateescape") + b"\r\n"


def format_line(msg: Message, strict: bool = True) -> str:
    """The line for ``msg`` without CRLF.

    A middle parameter must be non-empty, without spaces, and not start with
    ``:``. ``strict`` raises ValueError otherwise; the server formats with
    ``strict=False``, which shows such a parameter as ``*`` so that a value a
    client typed, echoed back in a reply, can never break the line.
    """
    parts = []
    if msg.tags:
        parts.append("@" + serialize_tags(msg.tags))
    if msg.source:
        parts.append(":" + msg.source)
    parts.append(msg.command)
    params = msg.params
    if params:
        for middle in params[:-1]:
            if not middle or " " in middle or middle.startswith(":"):
                if strict:
                    raise ValueError(f"parameter {middle!r} can only be the last one")
                middle = "*"
            parts.append(middle)
        last = params[-1]
        if not last or " " in last or last.startswith(":"):
            parts.append(":" + last)
        else:
            parts.append(last)
    return " ".join(parts)


def decode_line(raw: bytes) -> Message | None:
    """Turn one raw line (no line ending) from a client into a Message.

    Returns ``None`` for a blank line (ignored, as RFC 1459 says). Raises a
    :class:`ProtocolError` for a line that breaks a limit, is not UTF-8, holds a
    NUL byte, or has no command.
    """
    raw = raw.rstrip(b"\r")
    if not raw.strip(b" "):
        return None
    body = raw
    tag_bytes = 0
    if raw.startswith(b"@"):
        space = raw.find(b" ")
        if space == -1:
            raise MalformedLine("Tags without a command")
        tag_bytes = space + 1
        body = raw[tag_bytes:]
    command = _guess_command(body)
    if tag_bytes > MAX_TAGS_BYTES or tag_bytes - 2 > MAX_CLIENT_TAG_DATA:
        raise TagsTooLong("Tag section too long", command)
    if len(body) + 2 > MAX_BODY_BYTES:
        raise BodyTooLong("Input line was too long", command)
    if b"\x00" in raw:
        raise MalformedLine("Line contains a NUL byte", command)
    if b"\r" in raw:  # RFC 2812 2.3.1: CR only ends a line; relayed, it could forge one
        raise MalformedLine("Line contains a carriage return", command)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidUtf8("Message rejected, your IRC software MUST use UTF-8", command) from None
    return parse_line(text)


def _guess_command(body: bytes) -> str:
    """The command of a line we are about to reject, for the error reply."""
    words = body.split()
    if words and words[0].startswith(b":"):
        words = words[1:]
    if not words:
        return "*"
    word = words[0][:32]
    if word.isalnum() and word.isascii():
        return word.decode("ascii").upper()
    return "*"


class LineDecoder:
    """Incremental splitter: feed bytes, get complete raw lines.

    The buffer never holds more than ``max_line`` bytes of an unfinished line:
    past that, the line is discarded up to its end and a :class:`LineTooLong`
    is reported in its place, so a client cannot grow server memory by never
    sending a newline.
    """

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes | LineTooLong]:
        out: list[bytes | LineTooLong] = []
        buf = self._buf
        buf += data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl == -1:
                break
            if self._discarding:
                self._discarding = False
            elif nl - start > self.max_line:
                out.append(LineTooLong("Input line was too long"))
            else:
                out.append(bytes(buf[start:nl]))
            start = nl + 1
        del buf[:start]
        if len(buf) > self.max_line:
            if not self._discarding:
                out.append(LineTooLong("Input line was too long"))
                self._discarding = True
            buf.clear()
        return out

