"""The IRC wire protocol, pure: messages, the line codec, case mapping, numerics,
the server-time format.

Nothing here knows about sockets or time; everything takes bytes or strings and
returns values or raises :class:`ProtocolError` subclasses.
"""

from .casemap import casefold, is_valid_channel, is_valid_nick, mask_match
from .codec import (
    BodyTooLong,
    InvalidUtf8,
    LineDecoder,
    LineTooLong,
    MalformedLine,
    ProtocolError,
    TagsTooLong,
    parse_line,
    serialize,
)
from .message import Message

__all__ = [
    "BodyTooLong",
    "InvalidUtf8",
    "LineDecoder",
    "LineTooLong",
    "MalformedLine",
    "Message",
    "ProtocolError",
    "TagsTooLong",
    "casefold",
    "is_valid_channel",
    "is_valid_nick",
    "mask_match",
    "parse_line",
    "serialize",
]
