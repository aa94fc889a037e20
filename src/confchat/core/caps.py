"""The IRCv3 capabilities confchat implements, advertised by CAP LS.

Only what works is listed. ``msgid`` (IRCv3 message-ids) has no capability of
its own: it rides on ``message-tags``, as the spec says.
"""

SUPPORTED: dict[str, str] = {
    "account-notify": "",
    "account-tag": "",
    "away-notify": "",
    "batch": "",
    "cap-notify": "",
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


def ls_string(version: int) -> str:
    """The CAP LS list; values (``cap=value``) only for CAP LS 302 and later."""
    if version >= 302:
        return " ".join(f"{name}={value}" if value else name for name, value in SUPPORTED.items())
    return " ".join(SUPPORTED)
