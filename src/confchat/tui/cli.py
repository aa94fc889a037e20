"""``confchat-tui``: the command line of the terminal client.

The password comes from the environment variable ``CONFCHAT_PASSWORD`` or
a prompt, never from the command line (where ``ps`` and shell histories
would show it).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from .session import Session

PASSWORD_VARIABLE = "CONFCHAT_PASSWORD"
DEFAULT_PORT = 6667
DEFAULT_TLS_PORT = 6697


def parse_server(text: str, tls: bool) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port``."""
    default = DEFAULT_TLS_PORT if tls else DEFAULT_PORT
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if port and not port.isdigit():
        raise argparse.ArgumentTypeError(f"'{port}' is not a port")
    return host or "127.0.0.1", int(port) if port else default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="confchat-tui",
        description="The confchat terminal client for moderators, guests and admins.",
        epilog=f"The password is read from ${PASSWORD_VARIABLE}, or asked. Press ? in the client for every key.",
    )
    parser.add_argument("--server", default="127.0.0.1:6667", help="host:port of the IRC port (default 127.0.0.1:6667)")
    parser.add_argument("--account", required=True, help="the staff account to log in to (SASL PLAIN)")
    parser.add_argument("--channel", default="", help="the conference, e.g. #townhall (default: the first listed)")
    parser.add_argument("--nick", default=None, help="the nick (default: the account)")
    parser.add_argument("--tls", action="store_true", help="connect with TLS (default port 6697)")
    parser.add_argument("--cafile", default=None, help="with --tls: trust the certificates in this file")
    parser.add_argument("--insecure", action="store_true", help="with --tls: do not verify the certificate (tests)")
    parser.add_argument("--light", action="store_true", help="colours for a light terminal (NO_COLOR=1: none)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        host, port = parse_server(args.server, args.tls)
    except argparse.ArgumentTypeError as error:
        print(f"confchat-tui: {error}", file=sys.stderr)
        return 2
    password = os.environ.get(PASSWORD_VARIABLE)
    if not password:
        try:
            password = getpass.getpass(f"Password for {args.account}: ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 1
    channel = args.channel
    if channel and not channel.startswith(("#", "&")):
        channel = "#" + channel
    from .app import ConfchatApp
    from .net import tls_context

    tls = tls_context(args.cafile, args.insecure) if args.tls else None
    session = Session(args.account, password, channel=channel, nick=args.nick)
    app = ConfchatApp(session, host, port, tls=tls, light=args.light)
    app.run()
    if session.fatal:
        print(f"confchat-tui: {session.fatal}", file=sys.stderr)
        return 1
    return 0
