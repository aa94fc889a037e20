"""The blocklist: French and English insults through obfuscation, and the false-positive traps."""

from __future__ import annotations

import random
import string

import pytest

from confchat.moderation.policies import Message, Verdict, build_policy
from confchat.moderation.policies.blocklist import BlocklistPolicy
from confchat.moderation.policies.terms import builtin_list, parse_lines

DEFAULT = BlocklistPolicy()
# Wildcards no sane list would hold, to show that the allow-list and the
# word boundaries keep the traps out even then.
RECKLESS = build_policy({"policy": "blocklist", "terms": ["con* hold", "*cunt* drop", "*ass* hold", "naz* hold"]})


def check(policy, text: str):
    return policy.check(Message(text, "visitor", 0.0))


def verdict(policy, text: str) -> Verdict | None:
    decision = check(policy, text)
    return None if decision is None else decision.verdict


@pytest.mark.parametrize(
    "text",
    [
        "Espèce de connard",
        "Espèce de CONNARD",
        "espece de connards",
        "Espèce de c.o.n.n.a.r.d !",
        "c o n n a r d",
        "c-o-n-n-a-r-d",
        "connnnnnard",
        "cooonnnnaaard",
        "c0nn@rd",
        "\u0441onnard",  # Cyrillic c
        "ｃｏｎｎａｒｄ",
        "con\u200bnard",
        "c*nnard",
        "c#nnard",
        "c**nard",
        "*connard*",
        "Fils de pute",
        "fils-de-pute",
        "fils de p u t e",
        "Enculé",
        "3ncul3",
        "NIQUE TA MÈRE",
        "ta gueule",
        "tg gueule ta gueule",
        "fuck this",
        "F.U.C.K",
        "you motherfucker",
        "kiss my ass",
    ],
)
def test_dropped(text):
    decision = check(DEFAULT, text)
    assert decision is not None and decision.verdict is Verdict.DROP, text
    assert decision.flags == ("blocklist",) and decision.reason.startswith("blocked words: ")


@pytest.mark.parametrize(
    "text",
    [
        "Quel idiot !",
        "t'es qu'un 1d10t",
        "Bande d'imbéciles",
        "Le maire est un crétin",
        "c'est débile",
        "quel con",
        "Il est con-vaincu",  # the hyphen separates "con": the pun is held for a moderator
        "il y a c o n",
        "you moron",
        "you are a l o s e r",
        "shut up",
        "SHUT-UP",
        "what an ass",
        "asssss",  # repeats absorbed
    ],
)
def test_held(text):
    assert verdict(DEFAULT, text) is Verdict.HOLD, text


TRAPS = [
    "Concarneau", "Saint-Nazaire", "classe", "Scunthorpe", "bosser", "compte", "conseil", "passe",
]


@pytest.mark.parametrize("policy", [DEFAULT, RECKLESS], ids=["default", "reckless-wildcards"])
@pytest.mark.parametrize("word", TRAPS)
def test_allow_listed_words_pass_untouched(policy, word):
    assert check(policy, word) is None
    assert check(policy, f"Bonjour, je viens de {word} pour le {word.upper()} !") is None


@pytest.mark.parametrize(
    "text",
    [
        "saTURDay",  # case folded: one word, "saturday"; "turd" would need *turd*
        "Le député de Puteaux",  # "pute" inside député and Puteaux: not a word
        "une dispute, c'est réputé",
        "le ramassage des ordures",  # ordure is not listed: household waste
        "le cul-de-sac",  # cul is not listed
        "les douches municipales",  # douche is not listed
        "as you know, we assess the class",  # "as" is not "ass": letters are never removed
        "Le classement et la passerelle",  # allowed prefixes (classe*, passe*)
        "Mon compte, mes comptes, le conseiller",
        "la connexion wifi du concert",  # connexion is not conne*
        "chili con carne",  # ... "con" alone is held, see test_held
        "10000000 euros",
        "Quand rouvre la piscine ?",
    ],
)
def test_false_positive_traps_pass(text):
    if text == "chili con carne":
        assert verdict(DEFAULT, text) is Verdict.HOLD  # documented: "con" alone is held
        return
    assert check(DEFAULT, text) is None, text


def test_reckless_wildcards_still_match_around_the_allow_list():
    assert verdict(RECKLESS, "quel conformiste") is Verdict.HOLD  # con*
    assert verdict(RECKLESS, "Concarneau") is None
    assert verdict(RECKLESS, "Saint-Nazaire") is None  # naz*, but nazaire is allowed
    assert verdict(RECKLESS, "scunthorpe") is None
    assert verdict(RECKLESS, "xcuntx") is Verdict.DROP  # *cunt* inside a word
    assert verdict(RECKLESS, "la classe") is None and verdict(RECKLESS, "passe") is None
    assert verdict(RECKLESS, "massif") is Verdict.HOLD  # *ass*: why such terms are a bad idea


def test_per_term_actions_and_default_action():
    policy = build_policy({"policy": "blocklist", "lists": [], "terms": ["patate drop", "navet hold", "courge"]})
    assert verdict(policy, "patate") is Verdict.DROP
    assert verdict(policy, "navet") is Verdict.HOLD
    assert verdict(policy, "courge") is Verdict.HOLD
    strict = build_policy(
        {"policy": "blocklist", "lists": [], "terms": ["courge"], "default_action": "drop"}
    )
    assert verdict(strict, "courge") is Verdict.DROP


def test_a_drop_wins_over_a_hold_on_one_word_and_the_reason_names_the_terms():
    policy = build_policy({"policy": "blocklist", "lists": [], "terms": ["con* hold", "connard drop", "idiot hold"]})
    decision = check(policy, "idiot de connard")
    assert decision.verdict is Verdict.DROP and decision.reason == "blocked words: connard"
    held = check(policy, "idiot et conformiste")
    assert held.verdict is Verdict.HOLD and held.reason == "blocked words: idiot, con*"
    assert held.score == 2.0


def test_wildcard_kinds():
    policy = build_policy(
        {"policy": "blocklist", "lists": [], "terms": ["ver* hold", "*mot hold", "*sal* hold", "gros mot drop"]}
    )
    assert verdict(policy, "vermine") is Verdict.HOLD and verdict(policy, "revers") is None
    assert verdict(policy, "grosmot") is Verdict.HOLD and verdict(policy, "motif") is None
    assert verdict(policy, "universalite") is Verdict.HOLD
    assert verdict(policy, "un GROS  MOT") is Verdict.DROP
    assert verdict(policy, "gros") is None and verdict(policy, "gros mots") is None


def test_masks_need_real_letters():
    assert check(DEFAULT, "f***") is None  # one letter for three masks: unreadable
    assert check(DEFAULT, "*******") is None
    assert verdict(DEFAULT, "f**k") is Verdict.DROP
    decision = check(DEFAULT, "quel c*nnard")
    assert decision.reason == "blocked words: c*nnard"  # a masked word names itself


def test_allow_option_and_accented_terms():
    policy = build_policy(
        {"policy": "blocklist", "lists": [], "terms": ["mégère hold", "pet* hold"], "allow": ["pétanque", "Pétaouchnok"]}
    )
    assert verdict(policy, "vieille MEGERE") is Verdict.HOLD
    assert verdict(policy, "tu pètes") is Verdict.HOLD
    assert check(policy, "la pétanque à Pétaouchnok") is None


def test_builtin_lists_parse_and_say_where_they_come_from():
    for name in ("fr", "en"):
        lines = builtin_list(name)
        assert "Written for confchat" in "\n".join(lines[:5])
        terms = parse_lines(lines, Verdict.HOLD)
        listed = [t for t in terms if t.action is not None]
        assert 30 <= len(listed) <= 70, (name, len(listed))


def test_five_thousand_terms_compile_once():
    rng = random.Random(7)
    terms = {"".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9))) for _ in range(5000)}
    policy = build_policy({"policy": "blocklist", "terms": sorted(terms)})
    assert policy.compiled.size >= 5000
    some = sorted(terms)[1234]
    assert verdict(policy, f"Vous êtes un {some.upper()} !") is Verdict.HOLD
    assert check(policy, "Quand rouvre la piscine de Concarneau ?") is None
