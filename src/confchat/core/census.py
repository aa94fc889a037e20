"""Who is on the server, counted as it changes: LUSERS's figures and the
users a WHO mask may list to anyone.

Counting by walking every client would make each registration's welcome
burst cost O(clients), and a crowd arriving at once O(clients²); a cached
count is wrong for a second after each change (another client's LUSERS is
off by one). So the figures are kept exact, updated by :meth:`Census.update`
whenever something they depend on changes: registration, a user mode (+i,
+o), a JOIN or PART of a conference, the connection going.

``public`` holds the registered users a WHO mask finds for anyone (RFC 2812
3.6.1: "all visible users", those not +i): not invisible, and in no
conference, where the auditorium decides who sees whom. Its size is what a
visitor's ``WHO *`` walks, never the audience of a conference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client import Client


class Census:
    def __init__(self) -> None:
        self.users: set[Client] = set()  # registered
        self.invisible: set[Client] = set()  # registered and +i
        self.opers: set[Client] = set()  # registered operators
        self.public: set[Client] = set()
        self.peak = 0  # most registered users at once (RPL_LOCALUSERS's max)

    def update(self, client: Client) -> None:
        """Count ``client`` as it is now (gone: not at all). Costs the
        number of its channels."""
        here = client.registered and not client.gone
        _place(self.users, client, here)
        _place(self.invisible, client, here and "i" in client.modes)
        _place(self.opers, client, here and client.oper is not None)
        _place(
            self.public, client,
            here and "i" not in client.modes
            and not any(channel.conference is not None for channel in client.channels.values()),
        )
        if len(self.users) > self.peak:
            self.peak = len(self.users)


def _place(group: set[Client], client: Client, inside: bool) -> None:
    if inside:
        group.add(client)
    else:
        group.discard(client)
