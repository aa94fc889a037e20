"""Cost of the moderation policy chain per message, every built-in on.

Builds the chain of ``default_configs()`` (blocklist, links, shouting,
max_length, repeated, mentions, duplicate, rate, newcomers, raid) with the
blocklist given ``--terms`` generated terms on top of the built-in French and
English lists (words, ``prefix*``, ``*suffix``, ``*inside*`` and phrases, in
the proportions of a real list), then runs a corpus of French and English
messages through it: ordinary questions, accents, obfuscated insults
(spacing, leetspeak, look-alikes, masks), links, shouting, each with a
history of earlier messages from the same visitor. Every message is timed
alone (``perf_counter_ns``) over ``--rounds`` rounds.

Reports (JSON on stdout): the chain's median, p99 and mean in microseconds
per message, the same for each policy alone and for the chain with the
built-in lists only, the time to build the chain (the blocklist compiles
then), and how many messages each verdict got in one round. Pure Python, no I/O
while measuring; a benchmark, not a test (machines are noisy).

Usage:
  .venv/bin/python bench/policies.py
  .venv/bin/python bench/policies.py --terms 5000 --rounds 200
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import string
import time

from confchat.moderation.policies import Message, Recent, Verdict, build_chain, default_configs

CORPUS = [
    "Bonjour monsieur le maire, quand est-ce que la piscine de Concarneau va rouvrir ?",
    "Pourquoi les impôts locaux augmentent-ils encore cette année ?",
    "Merci pour la réponse sur le conseil municipal de jeudi.",
    "Est-ce que la ligne de bus 3 passera bientôt par Saint-Nazaire ?",
    "Mon compte sur le site de la mairie ne marche plus, qui contacter ?",
    "Le programme est sur https://www.ville.fr/agenda et aussi sur evil.example.com",
    "Les travaux de la rue Jean-Jaurès durent depuis six mois, c'est trop long.",
    "Espèce de c.o.n.n.a.r.d !",
    "t'es qu'un 1d10t",
    "сonnard (avec un c cyrillique)",
    "ｃｏｎｎａｒｄ en pleine largeur",
    "c*nnard va",
    "IL FAUT ARRÊTER CE PROJET DE PARKING TOUT DE SUITE !!!",
    "non non non!!!!!!!!!!!!!",
    "Il est con-vaincu que ça marchera.",
    "Quel est le budget de 10000000 euros prévu pour l'école ?",
    "When will the new library open? Thanks!",
    "You are a m0r0n and a l o s e r",
    "Can the classic car show use the Scunthorpe road this Saturday?",
    "@alice @bob @carol @dave regardez ça",
    "Le député de Puteaux a dit la même chose, qu'en pensez-vous ?",
    "On pourrait bosser ensemble sur la classe de mer ?",
    "Quand passe le ramassage des ordures dans mon quartier ?",
    "Merci !",
]


def generated_terms(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct made-up terms: 70 % words, 15 % prefix*, 5 %
    *suffix, 2 % *inside*, 8 % two-word phrases; a third drop, the rest hold."""
    seen: set[str] = set()
    out = []

    def word() -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 10)))

    while len(out) < count:
        draw = rng.random()
        if draw < 0.70:
            term = word()
        elif draw < 0.85:
            term = word() + "*"
        elif draw < 0.90:
            term = "*" + word()
        elif draw < 0.92:
            term = "*" + word() + "*"
        else:
            term = word() + " " + word()
        if term in seen:
            continue
        seen.add(term)
        out.append(f"{term} {'drop' if rng.random() < 1 / 3 else 'hold'}")
    return out


def messages(rng: random.Random) -> list[Message]:
    out = []
    for visitor, text in enumerate(CORPUS):
        now = 10_000.0 + visitor
        history = tuple(Recent(rng.choice(CORPUS), now - 20.0 * (5 - i)) for i in range(5))
        out.append(Message(
            text, f"visitor{visitor}", now, account=None, connection=visitor, channel="#mairie",
            history=history, joined_at=now - 600.0,
        ))
    return out


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "median_us": round(statistics.median(ordered) / 1000, 2),
        "p99_us": round(p99 / 1000, 2),
        "mean_us": round(statistics.fmean(ordered) / 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--terms", type=int, default=5000, help="generated blocklist terms")
    parser.add_argument("--rounds", type=int, default=300, help="passes over the corpus")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    configs = default_configs()
    extra = generated_terms(args.terms, rng)
    for config in configs:
        if config["policy"] == "blocklist":
            config["terms"] = extra
    started = time.perf_counter()
    chain = build_chain(configs)
    build_s = time.perf_counter() - started
    corpus = messages(rng)

    verdicts = {v.value: 0 for v in Verdict}
    for message in corpus:  # warm up (memoised history forms, regex caches), and count
        verdicts[chain.run(message).verdict.value] += 1

    clock = time.perf_counter_ns
    chain_ns: list[int] = []
    policy_ns: dict[str, list[int]] = {p.name: [] for p in chain.policies}
    for _ in range(args.rounds):
        for message in corpus:
            start = clock()
            chain.run(message)
            chain_ns.append(clock() - start)
        for policy in chain.policies:
            samples = policy_ns[policy.name]
            for message in corpus:
                start = clock()
                policy.check(message)
                samples.append(clock() - start)

    small = build_chain(default_configs())  # the built-in lists alone, for comparison
    small_ns: list[int] = []
    for _ in range(args.rounds):
        for message in corpus:
            start = clock()
            small.run(message)
            small_ns.append(clock() - start)

    blocklist = next(p for p in chain.policies if p.name == "blocklist")
    print(json.dumps({
        "benchmark": "policies",
        "messages_per_round": len(corpus),
        "rounds": args.rounds,
        "blocklist_terms": blocklist.compiled.size,  # type: ignore[attr-defined]
        "build_seconds": round(build_s, 3),
        "chain": percentiles(chain_ns),
        "chain_builtin_lists_only": percentiles(small_ns),
        "policies": {name: percentiles(samples) for name, samples in policy_ns.items()},
        "verdicts_per_round": verdicts,
    }, indent=2))


if __name__ == "__main__":
    main()
