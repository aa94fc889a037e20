"""The server as users start it, over real TCP sockets."""


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
