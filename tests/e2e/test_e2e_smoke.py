"""The server as users start it, over real TCP sockets."""

import pytest

# An event server closes the side routes to visitors (private messages,
# new channels): these tests are about IRC itself, on a plain IRC server's
# settings.
PLAIN_IRC = {"server": {"visitor_private_messages": True, "visitor_channels": True}}


@pytest.fixture
def server(start_server):
    """A plain IRC server (side routes open) on otherwise default settings."""
    return start_server(PLAIN_IRC)


def test_two_clients_chat_in_a_channel(server):
    alice = server.client("alice")
    bob = server.client("bob")
    alice.send("JOIN #town")
    alice.expect("366")
    bob.send("JOIN #town")
    bob.expect("366")
    alice.expect(lambda m: m.command == "JOIN" and m.source.startswith("bob!"))
    bob.send("PRIVMSG #town :hello alice")
    msg = alice.expect("PRIVMSG")
    assert msg.params == ("#town", "hello alice")
    assert msg.source.startswith("bob!")
