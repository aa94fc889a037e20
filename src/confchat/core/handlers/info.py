"""About the server itself: INFO, LINKS, and HELP (also spelt HELPOP), whose
topics describe the plain IRC commands and the moderation extension's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import __version__
from ...proto import numerics as N
from ...proto.message import Message
from .conf import CONF_SUBCOMMANDS
from .queue import QUEUE_SUBCOMMANDS
from .stage import PREPARED_SUBCOMMANDS

if TYPE_CHECKING:
    from ..client import Client
    from ..server import Server


def handle_info(server: Server, client: Client, msg: Message) -> None:
    """RFC 2812 3.4.10: RPL_INFO lines, then RPL_ENDOFINFO."""
    for line in (
        f"confchat {__version__}: an IRC server for moderated live events",
        "Every visitor message to a conference goes to a moderation queue first.",
        "Speaks RFC 1459/2812 and IRCv3; the moderation extension is in protocol.md.",
        f"Network {server.config.server.network}, server {server.name}",
        "Source and licence: see the project's README.",
    ):
        server.numeric(client, N.RPL_INFO, line)
    server.numeric(client, N.RPL_ENDOFINFO, "End of /INFO list")


def handle_links(server: Server, client: Client, msg: Message) -> None:
    """RFC 2812 3.4.5 (Modern IRC, LINKS): a network of one server lists
    itself, at hop count 0."""
    server.numeric(client, N.RPL_LINKS, "*", server.name, "0 IRC server for moderated live events")
    server.numeric(client, N.RPL_ENDOFLINKS, "*", "End of /LINKS list")


def _subcommands(table: dict[str, object]) -> str:
    return "Subcommands: " + ", ".join(sorted(table)) + "."


# One topic per command: its syntax first, then what it does. The moderation
# commands' subcommand lists come from their tables, so they cannot drift.
TOPICS: dict[str, tuple[str, ...]] = {
    "PRIVMSG": ("PRIVMSG <target>[,<target>] :<text>", "Sends a message to channels or nicks.",
                "In a conference a visitor's message goes to the moderation queue first."),
    "NOTICE": ("NOTICE <target>[,<target>] :<text>", "Like PRIVMSG, but never answered automatically."),
    "TAGMSG": ("TAGMSG <target>", "A message of tags only (message-tags)."),
    "JOIN": ("JOIN <channel>[,<channel>] [<key>[,<key>]]", "Joins channels; JOIN 0 leaves them all."),
    "PART": ("PART <channel>[,<channel>] [:<reason>]", "Leaves channels."),
    "TOPIC": ("TOPIC <channel> [:<topic>]", "Shows or sets a channel's topic."),
    "NAMES": ("NAMES <channel>", "Lists a channel's members (in an auditorium: the staff and a count)."),
    "LIST": ("LIST [<channel>[,...]] [>n,<n,C>n,C<n]", "Lists channels, by name or by size and age (ELIST=CU)."),
    "KICK": ("KICK <channel> <nick>[,<nick>] [:<reason>]", "Removes members from a channel (operators)."),
    "INVITE": ("INVITE [<nick> <channel>]", "Invites a user; alone, lists the channels you are invited to."),
    "MODE": ("MODE <channel or nick> [<changes> [<arguments>]]",
             "Channel modes: b e I k l i m n p s t o v. User modes: B i w (o by OPER)."),
    "WHO": ("WHO <channel or mask> [%<fields>[,<token>]]",
            "Lists users; masks find those not +i and those sharing a channel with you."),
    "WHOIS": ("WHOIS [<server>] <nick>", "Shows what is known of a user."),
    "WHOWAS": ("WHOWAS <nick> [<count>]", "Shows who had a nick before."),
    "AWAY": ("AWAY [:<message>]", "Marks you away, or back without a message."),
    "MONITOR": ("MONITOR + - C L S [<nick>[,<nick>]]", "Tells you when nicks come online or go offline."),
    "LUSERS": ("LUSERS", "Counts users, operators, unregistered connections and channels."),
    "MOTD": ("MOTD", "Shows the message of the day."),
    "INFO": ("INFO", "Tells about this server."),
    "LINKS": ("LINKS", "Lists the servers of the network: this one."),
    "HELP": ("HELP [<subject>]", "Shows help on a command; HELPOP is the same."),
    "SETNAME": ("SETNAME :<realname>", "Changes your real name (setname)."),
    "OPER": ("OPER <name> <password>", "Makes you an IRC operator, an admin in every conference."),
    "KILL": ("KILL <nick> :<reason>", "Disconnects a user (operators)."),
    "QUIT": ("QUIT [:<reason>]", "Leaves the server."),
    "CONF": ("CONF <channel> [<subcommand> [<arguments>]]",
             "The moderation extension: a conference's settings, state, roles, bans and listings.",
             _subcommands(CONF_SUBCOMMANDS), "CONF <channel> alone is CONF <channel> INFO."),
    "QUEUE": ("QUEUE <channel> <subcommand> [<arguments>]",
              "The moderation queue of a conference, for its moderators.", _subcommands(QUEUE_SUBCOMMANDS)),
    "ANSWER": ("ANSWER <channel> <item> :<text>", "The guest answers a question; the answer is published at once."),
    "PREPARED": ("PREPARED <channel> <subcommand> [<arguments>]",
                 "Answers the staff prepare before the event.", _subcommands(PREPARED_SUBCOMMANDS)),
    "VOTE": ("VOTE <channel> <item>", "Votes for a published question, once."),
    "REDACT": ("REDACT <channel> <msgid> [:<reason>]",
               "Deletes a message: in a conference, the moderators; elsewhere its sender or a channel operator."),
}
TOPICS["HELPOP"] = TOPICS["HELP"]

MODERATION = ("ANSWER", "CONF", "PREPARED", "QUEUE", "REDACT", "VOTE")
INDEX = (
    "confchat help: HELP <command> tells about one command.",
    "IRC: " + " ".join(sorted(k for k in TOPICS if k not in MODERATION)),
    "Moderation: " + " ".join(MODERATION),
    "protocol.md describes every command and reply.",
)


def handle_help(server: Server, client: Client, msg: Message) -> None:
    """Modern IRC, HELP: RPL_HELPSTART, RPL_HELPTXT..., RPL_ENDOFHELP, all
    naming the subject; an unknown subject gets ERR_HELPNOTFOUND."""
    subject = msg.param(0)
    if not subject:
        lines, shown = INDEX, "*"
    else:
        lines = TOPICS.get(subject.upper(), ())
        shown = subject
        if not lines:
            server.numeric(client, N.ERR_HELPNOTFOUND, subject, "No help available on this topic")
            return
    server.numeric(client, N.RPL_HELPSTART, shown, lines[0])
    for line in lines[1:]:
        server.numeric(client, N.RPL_HELPTXT, shown, line)
    server.numeric(client, N.RPL_ENDOFHELP, shown, "End of /HELP")
