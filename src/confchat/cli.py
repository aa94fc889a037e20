"""The ``confchat`` command: serve, init, passwd, export, policy test.

``main`` returns an exit status instead of exiting, so tests call it in
process. Errors an operator can fix (a bad config, an existing file) are one
line on stderr, never a traceback: 2 for config and usage errors, 1 for the
others, 130 when interrupted with Ctrl-C.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from collections.abc import Sequence
from importlib import metadata

from confchat.config import Config, ConfigError, Oper, load, parse_hostport, with_overrides
from confchat.log import configure_logging

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: The operator account ``confchat init`` creates.
INIT_OPER = "admin"


def version() -> str:
    """The installed distribution's version, or the source tree's."""
    try:
        return metadata.version("confchat")
    except metadata.PackageNotFoundError:
        from confchat import __version__

        return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except SystemExit as e:  # argparse (--help, --version, usage errors) or app.run
        return _exit_status(e.code)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="confchat",
        description="An IRC chat server for moderated live events.",
    )
    parser.add_argument("--version", action="version", version=f"confchat {version()}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the server",
        description=(
            "Run the server until Ctrl-C or SIGTERM. Options override the config file. "
            "With no [[conferences]] configured, a demo opens: a live moderated conference "
            "and the accounts admin, moderator and guest, kept in DATA_DIR/demo.toml; "
            "their passwords are printed at the first start."
        ),
    )
    serve.add_argument(
        "--config", metavar="FILE", help="TOML config file (default: the built-in defaults)"
    )
    serve.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        action="append",
        type=_hostport_arg,
        help="IRC over TCP address; repeat for several; replaces listen.tcp from the file",
    )
    serve.add_argument(
        "--http",
        metavar="HOST:PORT",
        type=_http_arg,
        help='HTTP address (WebSocket, web client, metrics); "" disables it',
    )
    serve.add_argument("--name", metavar="SERVERNAME", help="server name shown to clients")
    serve.add_argument("--data-dir", metavar="DIR", help="where the server keeps its state")
    serve.add_argument(
        "--log-format", choices=("console", "json"), help="log format (default: console)"
    )
    serve.add_argument(
        "--no-demo",
        action="store_true",
        help="no first-run demo (it is on when no [[conferences]] is configured)",
    )
    serve.add_argument(
        "--workers",
        metavar="N",
        type=_workers_arg,
        help=(
            "N server processes sharing the listening ports (SO_REUSEPORT) and, through Redis "
            "([cluster] redis_url), the conferences; replaces cluster.workers (default: 1)"
        ),
    )
    serve.add_argument(
        "--reset-demo",
        action="store_true",
        help="new passwords for the demo accounts, printed once (the demo conference stays)",
    )
    serve.set_defaults(func=_serve)

    init = commands.add_parser(
        "init",
        help="write a commented config file with an IRC operator",
        description=(
            "Write a config file listing every setting with its default, and an "
            f'IRC operator "{INIT_OPER}" ([[opers]], for /OPER in an IRC client) with a '
            "random password, printed once. The web pages' staff (moderators, guests, "
            "admins) are [[accounts]] entries, which you add (confchat passwd hashes "
            "their passwords)."
        ),
    )
    init.add_argument("--path", default="config.toml", help="where to write (default: %(default)s)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.add_argument(
        "--self-signed",
        action="store_true",
        help=(
            "also write a self-signed certificate and key beside the config file and turn on "
            "IRC over TLS (127.0.0.1:6697) and HTTPS (127.0.0.1:8443), for trials: clients must "
            "accept the certificate by hand"
        ),
    )
    init.add_argument(
        "--tls-name",
        metavar="NAME",
        action="append",
        help="a host name or address the trial certificate covers; repeat for several "
        "(default: this machine's name, localhost, 127.0.0.1, ::1)",
    )
    init.set_defaults(func=_init)

    passwd = commands.add_parser(
        "passwd",
        help="hash a password for an [[accounts]] or [[opers]] entry",
        description=(
            "Read a password (from the terminal, or one line from standard input) "
            "and print its argon2id hash for the password_hash key of an [[accounts]] "
            "entry (staff: moderators, guests and admins, who sign in at /moderator and "
            "/guest or with SASL) or of an [[opers]] entry (IRC operators, who use /OPER)."
        ),
    )
    passwd.set_defaults(func=_passwd)

    export = commands.add_parser(
        "export",
        help="write a conference's transcript",
        description=(
            "Write the transcript of a conference from the server's database (the "
            "server may be running). Public: the published questions and answers in "
            "order, deleted messages left out. --internal: everything, with every "
            "moderation decision, who made it and why."
        ),
    )
    export.add_argument("conference", help="the conference's channel, e.g. '#townhall'; 'list' lists them")
    export.add_argument("--format", choices=("html", "md", "json", "txt", "csv"), default="html")
    export.add_argument("--internal", action="store_true", help="the internal archive, not the public transcript")
    export.add_argument("--output", "-o", metavar="FILE", help="write here instead of standard output")
    export.add_argument(
        "--config", metavar="FILE", help="the server's TOML config file (data_dir, storage, branding, server.timezone)"
    )
    export.add_argument("--data-dir", metavar="DIR", help="the server's data directory")
    export.set_defaults(func=_export)

    policy = commands.add_parser(
        "policy",
        help="try a conference's automatic moderation policies",
        description="Tools for the automatic moderation policies (docs/policies.md).",
    )
    policy_commands = policy.add_subparsers(title="commands", metavar="COMMAND", required=True)
    test = policy_commands.add_parser(
        "test",
        help="what each policy, and the chain, says of a text",
        description=(
            "Run a conference's policies, as configured, on TEXT (or on each line of --file) and "
            "print each policy's verdict and the chain's result. Exit status 0 when the chain ran, "
            "2 on a configuration error."
        ),
    )
    test.add_argument("--config", metavar="FILE", required=True, help="the server's TOML config file")
    test.add_argument("channel", help="the conference, e.g. '#townhall'")
    test.add_argument("text", nargs="?", help="the message to try")
    test.add_argument("--file", metavar="MESSAGES", help="a file of messages, one a line")
    test.add_argument("--json", action="store_true", help="print JSON instead of a table")
    test.set_defaults(func=_policy_test)
    return parser


def _policy_test(args: argparse.Namespace) -> int:
    from confchat.policytool import run_test

    if (args.text is None) == (args.file is None):
        print("confchat: give either TEXT or --file", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load(args.config)
        if args.file:
            with open(args.file, encoding="utf-8") as f:
                texts = [line.rstrip("\n") for line in f if line.strip()]
        else:
            texts = [args.text]
        run_test(config, args.channel, texts, args.json)
    except ConfigError as e:
        print(f"confchat: config error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"confchat: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from confchat import workers

    if workers.is_worker():
        # A worker of `serve --workers N`: its supervisor hands it the
        # configuration it resolved (options, file, demo) on standard input.
        return workers.worker_main()
    try:
        config = load(args.config) if args.config else Config()
        config = with_overrides(
            config,
            tcp=args.tcp,
            http=args.http,
            name=args.name,
            data_dir=args.data_dir,
            log_format=args.log_format,
        )
        config = workers.with_workers(config, args.workers)
        workers.check(config)
    except ConfigError as e:
        print(f"confchat: config error: {e}", file=sys.stderr)
        return EXIT_USAGE

    from confchat import demo

    if args.reset_demo and not demo.wanted(config, args.no_demo):
        why = "--no-demo was given" if args.no_demo else "the configuration has its own [[conferences]]"
        print(f"confchat: --reset-demo: there is no demo ({why})", file=sys.stderr)
        return EXIT_USAGE
    try:
        config, shown = demo.prepare(config, disabled=args.no_demo, reset=args.reset_demo)
    except ConfigError as e:
        print(f"confchat: config error: {e}", file=sys.stderr)
        return EXIT_USAGE

    configure_logging(config.logging)
    if config.cluster.workers > 1:
        return workers.supervise(config, shown)
    # Imported here: the server pulls in trio and the whole core, which
    # init and passwd do not need.
    from confchat.app import run

    run(config, shown)
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    try:
        config = load(args.config) if args.config else Config()
        config = with_overrides(config, data_dir=args.data_dir)
    except ConfigError as e:
        print(f"confchat: config error: {e}", file=sys.stderr)
        return EXIT_USAGE
    from confchat.app import database_path
    from confchat.proto.casemap import casefold
    from confchat.storage.sqlite import Store, StorageError
    from confchat.transcript import build, render

    path = database_path(config)
    if not os.path.exists(path):
        print(f"confchat: no database at {path} (use --data-dir or --config)", file=sys.stderr)
        return EXIT_FAILURE
    store = Store(path, config.storage.synchronous)
    try:
        store.open()
        if args.conference == "list":
            for name in store.conference_names():
                print(name)
            return EXIT_OK
        data = store.read(casefold(args.conference))
    except StorageError as e:
        print(f"confchat: {e}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        store.close()
    if data is None:
        print(f"confchat: no conference {args.conference} in {path} (confchat export list)", file=sys.stderr)
        return EXIT_FAILURE
    import time

    transcript = build(data, internal=args.internal, now=time.time(), timezone_name=config.server.timezone)
    text = render(transcript, args.format, config.branding)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        except OSError as e:
            print(f"confchat: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
            return EXIT_FAILURE
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from confchat.configfile import render

    password = secrets.token_urlsafe(18)
    config = Config(opers=(Oper(name=INIT_OPER, password_hash=_hash(password)),))
    tls_note = ""
    if args.self_signed:
        if os.path.exists(args.path) and not args.force:
            print(f"confchat: {args.path} already exists; use --force to overwrite it", file=sys.stderr)
            return EXIT_FAILURE
        try:
            config, tls_note = _with_self_signed(config, args.path, args.tls_name)
        except (OSError, ImportError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            print(f"confchat: cannot write the trial certificate: {why}", file=sys.stderr)
            return EXIT_FAILURE
    text = render(config)
    # O_EXCL unless --force: never clobber a file that appeared meanwhile.
    # 0o600: the file holds hashes, and maybe a server password later.
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if args.force else os.O_EXCL)
    try:
        fd = os.open(args.path, flags, 0o600)
    except FileExistsError:
        print(
            f"confchat: {args.path} already exists; use --force to overwrite it",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except OSError as e:
        print(f"confchat: cannot write {args.path}: {e.strerror or e}", file=sys.stderr)
        return EXIT_FAILURE
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    print(
        f"Wrote {args.path}.\n"
        f'The IRC operator "{INIT_OPER}" has the password:\n'
        f"\n    {password}\n\n"
        "Keep this password somewhere safe: it is shown only this once, and the\n"
        "config file stores only its hash.\n"
        "\n"
        f'"{INIT_OPER}" is an IRC operator ([[opers]]): it logs in from an IRC client\n'
        f"with /OPER {INIT_OPER} <password>, and on the web administration page /admin,\n"
        "where it creates conferences and the staff accounts that sign in at\n"
        "/moderator and /guest (stored in the database). Or declare them here as\n"
        "[[accounts]] entries: hash each password with confchat passwd and add\n"
        "\n"
        "    [[accounts]]\n"
        '    name = "alice"\n'
        '    password_hash = "$argon2id$..."\n'
        "    admin = true          # or list alice in a conference's moderators\n"
        "\n"
        "and a [[conferences]] entry (README: Running a moderated event). With no\n"
        "[[conferences]], the server opens its demo instead. Start the server with\n"
        f"confchat serve --config {args.path}"
    )
    if tls_note:
        print(tls_note)
    return EXIT_OK


def _with_self_signed(config: Config, path: str, names: list[str] | None) -> tuple[Config, str]:
    """``config`` with TLS on, served by a new self-signed certificate
    written beside ``path``; and what to tell the operator."""
    import attrs

    from confchat.selfsigned import VALID_DAYS, default_names, write_self_signed

    folder = os.path.dirname(os.path.abspath(path))
    cert, key = os.path.join(folder, "confchat-cert.pem"), os.path.join(folder, "confchat-key.pem")
    names = names or default_names()
    fingerprint = write_self_signed(cert, key, names)
    listen = attrs.evolve(config.listen, tls=("127.0.0.1:6697",), https="127.0.0.1:8443")
    # No STS with a certificate nobody trusts: a client that obeyed it
    # could not connect again.
    tls = attrs.evolve(config.tls, cert=cert, key=key, sts=False)
    note = (
        f"\nWrote a self-signed certificate for {', '.join(names)} (valid {VALID_DAYS} days):\n"
        f"    {cert}\n    {key}   (the key: readable by you only)\n"
        f"SHA-256 fingerprint: {fingerprint}\n"
        "IRC over TLS listens on 127.0.0.1:6697 (irssi: /connect -tls -tls_cafile\n"
        f"{cert} 127.0.0.1 6697) and HTTPS on https://127.0.0.1:8443/.\n"
        "Browsers warn about this certificate: compare the fingerprint, then accept\n"
        "it. For an event, use one from\n"
        "the city's CA or Let's Encrypt (docs/deploy.md, \"TLS directly\")."
    )
    return attrs.evolve(config, listen=listen, tls=tls), note


def _passwd(args: argparse.Namespace) -> int:
    try:
        if sys.stdin.isatty():
            password = getpass.getpass("Password: ")
            if getpass.getpass("Again: ") != password:
                print("confchat: the passwords do not match", file=sys.stderr)
                return EXIT_FAILURE
        else:
            password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    except EOFError:
        password = ""
    if not password:
        print("confchat: no password given", file=sys.stderr)
        return EXIT_FAILURE
    print(_hash(password))
    return EXIT_OK


def _hash(password: str) -> str:
    """An argon2id hash with argon2-cffi's default (RFC 9106 low-memory)
    parameters, as the server checks them."""
    from confchat.core.passwords import hash_password

    return hash_password(password)


def _hostport_arg(text: str) -> str:
    """argparse type for --tcp: validate now, so the error names the option."""
    try:
        parse_hostport(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _workers_arg(text: str) -> int:
    """argparse type for --workers: 1 to 64, as cluster.workers."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes, got {text!r}") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"expected 1 to 64 processes, got {value}")
    return value


def _http_arg(text: str) -> str:
    return text if text == "" else _hostport_arg(text)


def _exit_status(code: object) -> int:
    """Map ``SystemExit.code`` to a status the way the interpreter does."""
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return EXIT_FAILURE
