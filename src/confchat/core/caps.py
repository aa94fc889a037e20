"""The IRCv3 capabilities confchat implements, advertised by CAP LS.

Only what works is listed. ``msgid`` (IRCv3 message-ids) has no capability of
its own: it rides on ``message-tags``, as the spec says. ``sts`` depends on
the connection (plain or TLS, the name a TLS client asked for): the shell
sets the server's :class:`StsPolicy` and tells the core which connections
are secure.
"""

SUPPORTED: dict[str, str] = {
    "account-notify": "",
    "account-tag": "",
    "away-notify": "",
    "batch": "",
    "cap-notify": "",
    # confchat's own: a visitor receives the coalesced vote counts and the
    # audience size (moderation/votes.py); the web pages ask for it.
    "confchat/audience": "",
    "draft/chathistory": "",
    "draft/event-playback": "",
    "draft/message-redaction": "",
    "draft/no-implicit-names": "",
    "echo-message": "",
    "extended-join": "",
    "extended-monitor": "",
    "invite-notify": "",
    "labeled-response": "",
    "message-tags": "",
    "multi-prefix": "",
    "sasl": "PLAIN",
    "server-time": "",
    "setname": "",
    "standard-replies": "",
    "userhost-in-names": "",
}


def ls_string(version: int, sts: str | None = None) -> str:
    """The CAP LS list; values (``cap=value``) only for CAP LS 302 and later.
    ``sts``: the value of this connection's STS policy (:class:`StsPolicy`),
    listed for 302 and later only: a policy is its value. It is never in
    ``SUPPORTED``: a client must not request it (CAP REQ sts gets NAK)."""
    if version >= 302:
        listed = " ".join(f"{name}={value}" if value else name for name, value in SUPPORTED.items())
        return f"{listed} sts={sts}" if sts else listed
    return " ".join(SUPPORTED)


class StsPolicy:
    """IRCv3 STS (strict transport security), as the shell configured it:
    ``port`` is the TLS port plain clients are sent to, ``duration`` the
    seconds TLS clients keep to TLS, ``preload`` the opt-in to preload lists,
    ``hosts`` the names (SNI) the persistence policy is given for (empty:
    any name; a client that named none gets none, as the spec advises)."""

    __slots__ = ("port", "duration", "preload", "hosts")

    def __init__(self, port: int, duration: int, preload: bool = False, hosts: frozenset[str] = frozenset()) -> None:
        self.port = port
        self.duration = duration
        self.preload = preload
        self.hosts = frozenset(host.lower() for host in hosts)

    def value(self, tls_name: str | None) -> str | None:
        """The ``sts`` capability's value for a connection: ``tls_name`` is
        None on a plain one (the upgrade policy: ``port=``), the SNI name on
        a TLS one ("" if the client sent none: no policy)."""
        if tls_name is None:
            return f"port={self.port}"
        name = tls_name.lower()
        if not name or (self.hosts and name not in self.hosts):
            return None
        return f"duration={self.duration}" + (",preload" if self.preload else "")
