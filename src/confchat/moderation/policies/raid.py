"""The raid policy: one text from many visitors at once.

A raid is the same text (in :func:`.history.key` form) sent by
``visitors`` different visitors within ``window`` seconds: from that
visitor on, each copy is held (or dropped). The earlier copies were judged
before the raid was visible; the moderators see the flag on the later ones.

Options (defaults in brackets): ``visitors`` [5], ``window`` [60 s],
``min_length`` [8] (shorter texts, ``merci`` or ``bravo``, are what a crowd
says: never a raid), ``max_texts`` [2000], ``action`` [hold], ``exempt``.

This policy keeps state: a :class:`RaidCounter`, bounded to ``max_texts``
texts of at most ``visitors`` senders each (the least recently seen text is
forgotten first), so one chain serves one conference. A visitor is its
account, else its connection, else its nick.
"""

from __future__ import annotations

from collections import OrderedDict

import attrs

from ...proto.casemap import casefold
from .base import Decision, Message, Options, Verdict, action, integer, number, option
from .history import key


class RaidCounter:
    """Who sent which text lately; pure (time comes in), bounded."""

    def __init__(self, window: float, visitors: int, max_texts: int) -> None:
        self.window = window
        self.visitors = visitors
        self.max_texts = max_texts
        # text -> (last seen, {visitor: last seen}), least recently seen first
        self._texts: OrderedDict[str, tuple[float, dict[str, float]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._texts)

    def add(self, text: str, visitor: str, now: float) -> int:
        """Record one copy; the number of different visitors who sent
        ``text`` in the last ``window`` seconds, this one included."""
        while self._texts:
            oldest = next(iter(self._texts.values()))
            if now - oldest[0] < self.window:
                break
            self._texts.popitem(last=False)
        _, senders = self._texts.pop(text, (now, {}))
        senders = {v: at for v, at in senders.items() if now - at < self.window and v != visitor}
        senders[visitor] = now
        while len(senders) > self.visitors:  # enough to know it is a raid
            del senders[next(iter(senders))]
        self._texts[text] = (now, senders)
        while len(self._texts) > self.max_texts:
            self._texts.popitem(last=False)
        return len(senders)


@attrs.frozen
class RaidPolicy(Options):
    kind = "raid"
    visitors: int = option(5, integer(2), "different visitors sending one text that make a raid")
    window: float = option(60.0, number(0.0), "seconds within which they count")
    min_length: int = option(8, integer(0), "shorter texts are never a raid")
    max_texts: int = option(2000, integer(1), "texts remembered at most (memory bound)")
    action: Verdict = option(Verdict.HOLD, action, "hold or drop")
    counter: RaidCounter = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        object.__setattr__(self, "counter", RaidCounter(self.window, self.visitors, self.max_texts))

    def check(self, message: Message) -> Decision | None:
        text = key(message.text)[0]
        if len(text) < self.min_length:
            return None
        if message.account:
            visitor = "a:" + casefold(message.account)
        elif message.connection is not None:
            visitor = f"c:{message.connection}"
        else:
            visitor = "n:" + casefold(message.nick)
        senders = self.counter.add(text, visitor, message.now)
        if senders < self.visitors:
            return None
        return self.decide(self.action, f"raid: the same text from {senders} visitors in {self.window:g} s")
