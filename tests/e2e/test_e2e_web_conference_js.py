"""Unit tests of the pages' shared modules, run in Debian's chromium:
static/conference.js (words, names, the moderation extension's lines) and
the request side of static/irc.js. A page of the real server imports the
modules; each test evaluates them on sample lines and checks the plain
objects they return here, in Python."""

from __future__ import annotations

import pytest

from confchat import vocab
from confchat.web.i18n import page_words

# Every test runs its script in a function that has the modules at hand:
# `c` (conference.js), `irc` (irc.js) and `line(text)` (a parsed IRC line).
PRELUDE = """async (arg) => {
  const c = await import("/static/conference.js");
  const irc = await import("/static/irc.js");
  const line = (text) => irc.parseLine(text);
"""


@pytest.fixture
def run(server, new_page):
    """``run(script, arg)``: the value of ``script`` (a function body) in
    a page of the server that imports the modules."""
    page = new_page()
    page.goto(f"http://127.0.0.1:{server.http_port}/embed")

    def evaluate(script: str, arg=None):
        return page.evaluate(PRELUDE + script + "\n}", arg)

    yield evaluate
    assert page.errors == []


def test_a_queue_item_has_a_number_for_its_id_and_null_for_nobody(run):
    item = run(r"""
      const item = c.parseQueueItem(line("@msgid=5f3a13 :confchat.local QUEUE #townhall ITEM 3 pending 2 carol 1700000131 alice * * :How much will the tram line cost?"));
      return { ...item, types: [typeof item.id, typeof item.position, typeof item.submitted] };
    """)
    assert item == {
        "channel": "#townhall", "id": 3, "state": "pending", "position": 2, "author": "carol",
        "submitted": 1700000131, "claimed": "alice", "decided": None, "flags": [], "redacted": False,
        "text": "How much will the tram line cost?", "types": ["number", "number", "number"],
    }
    decided = run(r"""return c.parseQueueItem(line(":confchat.local QUEUE #townhall ITEM 4 published 0 carol 1700000087 * bob redacted :Will tickets be cheaper for students?"));""")
    assert (decided["id"], decided["claimed"], decided["decided"]) == (4, None, "bob")
    assert decided["flags"] == ["redacted"] and decided["redacted"] is True
    # Not a queue item, or an id that is not a number: no item.
    assert run(r"""return [
      c.parseQueueItem(line(":confchat.local QUEUE #townhall END :0 waiting")),
      c.parseQueueItem(line(":confchat.local QUEUE #townhall ITEM x pending 1 carol 1 * * * :text")),
      c.parseQueueItem(line(":confchat.local CONF #townhall VOTES 3 2")),
    ];""") == [None, None, None]


def test_conf_lines_by_subcommand(run):
    lines = run(r"""return [
      ":confchat.local CONF * LIST #townhall live moderated :Ask the mayor",
      ":confchat.local CONF #townhall INFO title :Ask the mayor",
      ":confchat.local CONF #townhall INFO now_answering 3",
      ":confchat.local CONF #townhall INFO now_answering :",
      ":confchat.local CONF #townhall QUESTION 3 2 answered 5f3ae carol :How much will the tram line cost?",
      "@msgid=5f3a15 :confchat.local CONF #townhall VOTES 3 1",
      ":confchat.local CONF #townhall RESTRICTION ban *!*@203.0.113.7 alice 1700003805 Spamming",
      ":confchat.local CONF #townhall RESTRICTION mute $a:eve alice 0 :Rude words",
      ":confchat.local CONF #townhall END :2 restrictions",
      ":confchat.local CONF #townhall EXPORT html public /export/4f0c :Download link",
      ":confchat.local QUEUE #townhall ITEM 3 pending 2 carol 1 * * * :not CONF",
    ].map((text) => c.parseConf(line(text)));""")
    assert lines == [
        {"type": "list", "channel": "#townhall", "state": "live", "mode": "moderated", "title": "Ask the mayor"},
        {"type": "info", "channel": "#townhall", "key": "title", "value": "Ask the mayor"},
        {"type": "info", "channel": "#townhall", "key": "now_answering", "value": 3},
        {"type": "info", "channel": "#townhall", "key": "now_answering", "value": None},
        {"type": "question", "channel": "#townhall", "id": 3, "votes": 2, "status": "answered", "msgid": "5f3ae",
         "author": "carol", "text": "How much will the tram line cost?"},
        {"type": "votes", "channel": "#townhall", "id": 3, "votes": 1},
        {"type": "restriction", "channel": "#townhall", "kind": "ban", "mask": "*!*@203.0.113.7", "setBy": "alice",
         "expires": 1700003805, "reason": "Spamming"},
        {"type": "restriction", "channel": "#townhall", "kind": "mute", "mask": "$a:eve", "setBy": "alice",
         "expires": 0, "reason": "Rude words"},
        {"type": "end", "channel": "#townhall", "text": "2 restrictions"},
        None,  # not read by the pages
        None,
    ]


def test_conference_info_collects_the_info_lines(run):
    info = run(r"""return c.conferenceInfo([
      ":confchat.local CONF #townhall INFO title :Ask the mayor",
      ":confchat.local CONF #townhall INFO state live",
      ":confchat.local CONF #townhall INFO slow_mode 0",
      ":confchat.local CONF #townhall INFO now_answering 12",
      ":confchat.local CONF #townhall INFO role guest",
      ":confchat.local NOTE JOIN CONFERENCE #townhall live moderated guest :Ask the mayor is live",
      ":confchat.local CONF #townhall END :End of conference info",
    ].map(line));""")
    assert info == {"title": "Ask the mayor", "state": "live", "slow_mode": "0", "now_answering": 12, "role": "guest"}


def test_prepared_lines(run):
    assert run(r"""return [
      ":confchat.local PREPARED #townhall ITEM tram mayor :The tram opens in 2027.",
      ":confchat.local PREPARED #townhall END :1 prepared",
      ":confchat.local NOTE PREPARED SAVED #townhall tram :Prepared answer tram saved",
    ].map((text) => c.parsePrepared(line(text)));""") == [
        {"type": "item", "channel": "#townhall", "name": "tram", "author": "mayor", "text": "The tram opens in 2027."},
        {"type": "end", "channel": "#townhall"},
        None,
    ]


def test_standard_replies_name_their_fields(run):
    replies = run(r"""return [
      ":confchat.local FAIL QUEUE ALREADY_DECIDED #townhall 2 :Item 2 was already dropped by alice",
      ":confchat.local FAIL QUEUE INVALID_ITEM 3,4 :'3,4' is not an item id",
      ":confchat.local NOTE JOIN CONFERENCE #townhall live moderated visitor :Ask the mayor is live",
      ":confchat.local NOTE VOTE COUNTED #townhall 3 2 :Your vote was counted",
      ":confchat.local NOTE NAMES AUDIENCE #townhall 2 :2 people in the audience",
      ":confchat.local NOTE PRIVMSG HELD #townhall 7 :Your message is held for review",
      ":confchat.local FAIL PREPARED NO_SUCH_ANSWER #townhall tram :There is no prepared answer tram",
      "@label=l4 :confchat.local WARN * SOMETHING :careful",
      ":confchat.local NOTICE #townhall :not a standard reply",
    ].map((text) => c.parseReply(line(text)));""")
    assert replies[0] == {
        "kind": "FAIL", "command": "QUEUE", "code": "ALREADY_DECIDED", "context": ["#townhall", "2"],
        "description": "Item 2 was already dropped by alice", "channel": "#townhall", "id": 2,
    }
    assert (replies[1]["id"], replies[1]["context"]) == (None, ["3,4"])
    joined = replies[2]
    assert (joined["channel"], joined["state"], joined["mode"], joined["role"], joined["id"]) == (
        "#townhall", "live", "moderated", "visitor", None)
    assert (replies[3]["id"], replies[3]["votes"]) == (3, 2)
    assert (replies[4]["audience"], replies[4]["id"]) == (2, None)
    assert (replies[5]["kind"], replies[5]["code"], replies[5]["id"]) == ("NOTE", "HELD", 7)
    assert (replies[6]["id"], replies[6]["context"]) == (None, ["#townhall", "tram"])
    assert (replies[7]["kind"], replies[7]["command"], replies[7]["channel"]) == ("WARN", "*", "")
    assert replies[8] is None


def test_a_message_place_and_the_broadcasts(run):
    placed = run(r"""return [
      "@msgid=5f3a12;confchat/item=1 :carol!~carol@203.0.113.7 PRIVMSG #townhall :When will the tram reach the north district?",
      "@msgid=5f3a14;+draft/reply=5f3a12;confchat/item=1 :mayor!~mayor@198.51.100.20 PRIVMSG #townhall :Spring 2027.",
      "@msgid=5f3a18 :mayor!~mayor@198.51.100.20 PRIVMSG #townhall :About 240 million euros.",
    ].map((text) => c.messageItem(line(text)));""")
    assert placed == [{"item": 1, "replyTo": None}, {"item": 1, "replyTo": "5f3a12"}, {"item": None, "replyTo": None}]
    news = run(r"""return [
      "@confchat/answering=3;+draft/reply=5f3ae :confchat.local NOTICE #townhall :Now answering: carol: How much?",
      "@confchat/answered=3 :confchat.local NOTICE #townhall :Answered: carol: How much?",
      "@confchat/slow_mode=30 :confchat.local NOTICE #townhall :Slow mode is on",
      "@confchat/state=closed :confchat.local NOTICE #townhall :Ask the mayor is closed",
    ].map((text) => c.parseBroadcast(line(text)))
     .map((news) => Object.fromEntries(Object.entries(news).filter(([, value]) => value !== undefined)));""")
    # Only what the notice changes is defined.
    assert news == [{"answering": 3}, {"answered": 3}, {"slowMode": 30}, {"state": "closed"}]


def test_names_fold_with_the_rfc1459_case_mapping_and_ids_are_numbers(run):
    assert run(r"""return [
      c.fold("Carol[Away]\\~"), c.fold(null), c.fold(undefined), c.sameName("#Town[1]", "#town{1}"),
      c.itemId("12"), c.itemId(""), c.itemId("*"), c.itemId("1e3"), c.itemId(null), c.itemId(7),
    ];""") == ["carol{away}|^", "", "", True, 12, None, None, None, None, 7]


def test_words_placeholders_plurals_and_lists(run):
    results = run(r"""
      const words = {
        hello: "Hello {nick}, {missing}!",
        votes: { one: "{n} vote", other: "{n} votes" },
        exact: { "=1": "{n} vote", other: "{n} votes" },
        audience: { one: "{n} personne", other: "{n} personnes" },
        reasons: ["Off topic", "Duplicate"],
      };
      const en = c.translator(words, "en");
      const fr = c.translator(words, "fr");
      return {
        hello: en("hello", { nick: "carol" }),
        nullVar: en("hello", { nick: null }),
        unknown: en("no_such_key"),
        en: [0, 1, 2].map((n) => en("votes", { n })),
        frCategory: [0, 1, 2, 1000000].map((n) => fr("audience", { n })),
        frExact: [0, 1, 2].map((n) => fr("exact", { n })),
        list: en.list("reasons"),
        notList: en.list("hello"),
        has: [en.has("votes"), en.has("toString"), en.has("nothing")],
        badLanguage: c.translator(words, "not a language tag!")("votes", { n: 1 }),
      };
    """)
    assert results == {
        "hello": "Hello carol, !",
        "nullVar": "Hello , !",
        "unknown": "no_such_key",
        "en": ["0 votes", "1 vote", "2 votes"],
        # French: 0 and 1 are singular; a million ("many") falls back to "other".
        "frCategory": ["0 personne", "1 personne", "2 personnes", "1000000 personnes"],
        # An exact form wins: only 1 is singular.
        "frExact": ["0 votes", "1 vote", "2 votes"],
        "list": ["Off topic", "Duplicate"],
        "notList": [],
        "has": [True, False, False],
        "badLanguage": "1 vote",
    }


def test_the_page_words_and_the_lists_of_values_come_from_the_server(run):
    got = run(r"""return { vocab: c.VOCAB, lang: c.LANG, locale: c.LOCALE,
      title: c.t("title_embed"), frame: c.t("frame_title", { conference: "#townhall" }), retry: c.t("retry") };""")
    words = page_words("en", "embed")
    assert got["vocab"] == vocab.as_json()
    assert (got["lang"], got["locale"]) == ("en", "en-GB")
    assert got["title"] == words["title_embed"]
    assert got["frame"] == words["frame_title"].replace("{conference}", "#townhall")
    assert got["retry"] == "Retry"


def test_unanswered_text_and_the_retry_notice(run):
    got = run(r"""
      const timeout = new irc.RequestError("timeout", "QUEUE");
      const closed = new irc.RequestError("closed", "QUEUE");
      let retried = 0;
      const notice = c.retryNotice("No answer.", () => { retried += 1; });
      document.body.append(notice);
      const button = notice.querySelector("button");
      const before = { role: notice.getAttribute("role"), text: notice.textContent, label: button.textContent, type: button.type };
      button.click();
      return {
        // The embed page's words have no *_unanswered: the key is shown.
        timeout: c.unansweredText(timeout, "action"), closed: c.unansweredText(closed, "action"),
        reason: [timeout.reason, timeout.name, timeout instanceof Error],
        before, retried, gone: !document.body.contains(notice),
      };
    """)
    assert got["timeout"] == "action_unanswered" and got["closed"] == "action_unanswered"
    assert got["reason"] == ["timeout", "RequestError", True]
    assert got["before"] == {"role": "alert", "text": "No answer. Retry", "label": "Retry", "type": "button"}
    assert got["retried"] == 1 and got["gone"] is True


# ------------------------------------------------------------------ irc.js request()

# A client on a fake socket: `sent` holds its lines, `hear(text)` feeds it one.
FAKE_CLIENT = r"""
  const client = new irc.IrcClient({ nick: "moda" });
  const sent = [];
  client.ws = { readyState: WebSocket.OPEN, send: (text) => sent.push(text), close() {} };
  const hear = (text) => client.receive(text);
  const outcome = (promise) => promise.then(
    (replies) => ({ ok: replies.map((m) => m.command) }),
    (error) => ({ error: error.name, reason: error.reason, command: error.command, got: error.replies.length }));
"""


def test_a_labelled_request_resolves_with_its_replies_and_rejects_when_unanswered(run):
    got = run(FAKE_CLIENT + r"""
      client.caps = new Set(["labeled-response", "batch"]);
      const single = outcome(client.request("QUEUE", ["#townhall", "APPROVE", "3"]));
      hear("@label=l1 :confchat.local FAIL QUEUE ALREADY_DECIDED #townhall 3 :Item 3 was already published by modb");
      const acked = outcome(client.request("CONF", ["#townhall", "SET", "slow_mode", "0"]));
      hear("@label=l2 :confchat.local ACK");
      const batch = outcome(client.request("CONF", ["#townhall", "BANS"]));
      hear("@label=l3 :confchat.local BATCH +b1 labeled-response");
      hear("@batch=b1 :confchat.local CONF #townhall RESTRICTION ban *!*@1.2.3.4 moda 0 :x");
      hear("@batch=b1 :confchat.local CONF #townhall END :1 restrictions");
      hear(":confchat.local BATCH -b1");
      const late = outcome(client.request("QUEUE", ["#townhall", "APPROVE", "4"], { timeout: 50 }));
      const lost = outcome(client.request("QUEUE", ["#townhall", "APPROVE", "5"]));
      await new Promise((resolve) => setTimeout(resolve, 100));
      client.ws = null;
      client.failPending("closed");
      const offline = outcome(client.request("QUEUE", ["#townhall", "NEXT"]));
      return { sent, results: await Promise.all([single, acked, batch, late, lost, offline]), pending: client.pendingLabels.size };
    """)
    assert got["sent"][0] == "@label=l1 QUEUE #townhall APPROVE 3"
    assert got["results"] == [
        {"ok": ["FAIL"]},
        {"ok": []},  # ACK: answered, nothing to say
        {"ok": ["CONF", "CONF"]},
        {"error": "RequestError", "reason": "timeout", "command": "QUEUE", "got": 0},
        {"error": "RequestError", "reason": "closed", "command": "QUEUE", "got": 0},
        {"error": "RequestError", "reason": "offline", "command": "QUEUE", "got": 0},
    ]
    assert got["pending"] == 0


def test_without_labels_a_request_waits_for_the_pong_of_its_ping(run):
    got = run(FAKE_CLIENT + r"""
      client.caps = new Set();
      const answered = outcome(client.request("QUEUE", ["#townhall", "APPROVE", "3"]));
      const sentBefore = [...sent];
      hear(":confchat.local FAIL QUEUE ALREADY_DECIDED #townhall 3 :Item 3 was already published by modb");
      const early = await Promise.race([answered, new Promise((resolve) => setTimeout(() => resolve("waiting"), 30))]);
      hear(":confchat.local PONG confchat.local :p1");
      const stalled = outcome(client.request("CONF", ["LIST"], { timeout: 50 }));
      hear(":confchat.local CONF * LIST #townhall live moderated :Ask the mayor");
      return { sentBefore, early, results: await Promise.all([answered, stalled]) };
    """)
    assert got["sentBefore"] == ["QUEUE #townhall APPROVE 3", "PING p1"]
    assert got["early"] == "waiting"  # not before the PONG
    assert got["results"] == [
        {"ok": ["FAIL"]},
        {"error": "RequestError", "reason": "timeout", "command": "CONF", "got": 1},
    ]
