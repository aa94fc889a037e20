"""One IRC message: tags, source, command and parameters."""

from __future__ import annotations

from typing import Mapping

import attrs


@attrs.frozen(slots=True, hash=False)
class Message:
    """A parsed IRC message.

    ``tags`` maps tag keys to values; a tag sent without a value has ``""``
    (the IRCv3 message-tags spec makes ``key`` and ``key=`` equivalent).
    ``source`` is the prefix without its leading colon, or ``None``.
    ``params`` holds every parameter, the trailing one included, without colons.
    """

    command: str
    params: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    source: str | None = None
    tags: Mapping[str, str] = attrs.field(factory=dict)

    def param(self, index: int, default: str = "") -> str:
        """The parameter at ``index``, or ``default`` when there are fewer."""
        return self.params[index] if index < len(self.params) else default
