"""Example confchat policies, as a third party would write them.

``example``: drops a message containing ``forbidden`` (option ``drop_word``),
holds one containing ``doubtful`` (option ``hold_word``) with the flag
``example``, and vouches for the rest (an explicit publish).

``example-slow``: an asynchronous policy that waits ``seconds`` (default 5)
before saying nothing, like a classification service that is slow today.

``example-broken``: raises on every message, like a plugin with a bug.
"""

from __future__ import annotations

import trio

from confchat.moderation.policies import Decision, Verdict


class ExamplePolicy:
    def __init__(self, name: str, drop_word: str, hold_word: str) -> None:
        self.name = name
        self.drop_word = drop_word
        self.hold_word = hold_word

    @classmethod
    def from_options(cls, options: dict, name: str | None = None) -> "ExamplePolicy":
        unknown = set(options) - {"drop_word", "hold_word"}
        if unknown:
            raise ValueError(f"unknown options: {', '.join(sorted(unknown))}")
        return cls(name or "example", options.get("drop_word", "forbidden"), options.get("hold_word", "doubtful"))

    def check(self, message) -> Decision:
        text = message.text.lower()
        if self.drop_word in text:
            return Decision(Verdict.DROP, self.name, f"contains {self.drop_word!r}", 1.0, ("example",))
        if self.hold_word in text:
            return Decision(Verdict.HOLD, self.name, f"contains {self.hold_word!r}", 0.5, ("example",))
        return Decision(Verdict.PUBLISH, self.name, "looks fine", 0.0)


class SlowPolicy:
    def __init__(self, name: str, seconds: float) -> None:
        self.name = name
        self.seconds = seconds

    @classmethod
    def from_options(cls, options: dict, name: str | None = None) -> "SlowPolicy":
        return cls(name or "example-slow", float(options.get("seconds", 5.0)))

    async def check(self, message) -> Decision | None:
        await trio.sleep(self.seconds)
        return None


class BrokenPolicy:
    name = "example-broken"

    @classmethod
    def from_options(cls, options: dict, name: str | None = None) -> "BrokenPolicy":
        policy = cls()
        policy.name = name or "example-broken"
        return policy

    def check(self, message) -> Decision:
        raise RuntimeError("this plugin has a bug")
