"""Numbers in protocol text."""

from __future__ import annotations


def is_number(text: str) -> bool:
    """Whether ``text`` is a non-negative decimal integer in ASCII digits.

    ``str.isdigit`` alone also accepts "²" or "١", on which ``int`` fails or
    which no client means as a number."""
    return text.isascii() and text.isdigit()
