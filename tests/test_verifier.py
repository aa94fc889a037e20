"""The password-check task: checks run in worker threads, at most
``workers`` at once, in order, and their answers come back into the core on
the event loop. The hash is replaced by a function the test controls."""

from __future__ import annotations

import base64
import threading

import attrs
import pytest
import trio

from argon2 import PasswordHasher, extract_parameters

from confchat.config import Account, Config, Oper
from confchat.core.client import Client
from confchat.core.outbox import Outbox
from confchat.core.server import Server
from confchat.verifier import Verifier, decoy_hash, decoy_hashes

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse"


class Gate:
    """A stand-in for argon2: each check blocks its worker thread until the
    test opens the gate; records which passwords were checked."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.checked: list[str] = []

    def __call__(self, stored_hash: str, password: str) -> bool:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.checked.append(password)
        self.opened.wait(10)
        with self.lock:
            self.running -= 1
        if password == "boom":
            raise RuntimeError("the hash library failed")
        return password == PASSWORD


def a_core() -> Server:
    # Cheap hashes: the verifier makes its decoys with their parameters at start.
    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash("stored")
    return Server(Config(accounts=(Account("moda", cheap),), opers=(Oper("boss", cheap),)))


def start_login(
    core: Server, nick: str, password: str = PASSWORD, account: str = "moda"
) -> tuple[Client, Outbox]:
    outbox = Outbox(100_000)
    client = core.connect("192.0.2.1", outbox)
    assert client is not None
    blob = base64.b64encode(f"{account}\0{account}\0{password}".encode()).decode()
    for line in ("CAP LS 302", "CAP REQ sasl", f"NICK {nick}", f"USER {nick} 0 * :x", "AUTHENTICATE PLAIN", f"AUTHENTICATE {blob}", "CAP END"):
        core.receive(client, line.encode())
    outbox.take()
    return client, outbox


async def wait_for(predicate) -> None:
    with trio.fail_after(5):
        while not predicate():
            await trio.sleep(0.005)


async def test_the_answer_comes_back_and_the_login_completes():
    core = a_core()
    gate = Gate()
    gate.opened.set()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(Verifier(core, verify=gate).run)
        client, outbox = start_login(core, "first")
        await wait_for(lambda: client.registered)
        nursery.cancel_scope.cancel()
    data = outbox.take()
    assert data.index(b" 903 ") < data.index(b" 001 ")
    assert client.account == "moda"


async def test_the_event_loop_runs_while_checks_run_and_at_most_workers_at_once():
    core = a_core()
    gate = Gate()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(Verifier(core, workers=2, verify=gate).run)
        logins = [start_login(core, f"user{i}", f"pw{i}") for i in range(3)]
        await wait_for(lambda: gate.running == 2)
        await trio.sleep(0.05)  # the loop runs while two checks block their threads
        assert sorted(gate.checked) == ["pw0", "pw1"]  # the third waits its turn
        gate.opened.set()
        await wait_for(lambda: all(client.verifying is None for client, _ in logins))
        nursery.cancel_scope.cancel()
    assert gate.most == 2 and gate.checked[2] == "pw2"
    assert all(b" 904 " in outbox.take() for _, outbox in logins)


async def test_a_check_whose_client_left_before_its_turn_is_skipped():
    core = a_core()
    gate = Gate()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(Verifier(core, workers=1, verify=gate).run)
        start_login(core, "first", "pw-first")
        gone, _ = start_login(core, "gone", "pw-gone")
        await wait_for(lambda: gate.running == 1)
        core.connection_lost(gone)
        gate.opened.set()
        await wait_for(lambda: gate.running == 0)
        third, _ = start_login(core, "third")
        await wait_for(lambda: third.registered)
        nursery.cancel_scope.cancel()
    assert gate.checked == ["pw-first", PASSWORD]  # "pw-gone" was never hashed


async def test_a_check_that_raises_fails_closed():
    core = a_core()
    gate = Gate()
    gate.opened.set()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(Verifier(core, verify=gate).run)
        client, outbox = start_login(core, "unlucky", "boom")
        await wait_for(lambda: b" 904 " in outbox.take())
        nursery.cancel_scope.cancel()
    assert client.account is None and not client.gone


# ---------------------------------------------------------------- decoys for unknown names

CHEAP = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
OTHER = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)


class Recorder:
    """A stand-in for argon2 that says yes to everything and records the
    hashes it was asked to check against."""

    def __init__(self) -> None:
        self.hashes: list[str] = []

    def __call__(self, stored_hash: str, password: str) -> bool:
        self.hashes.append(stored_hash)
        return True


async def test_an_unknown_account_is_checked_against_a_decoy_and_fails():
    stored = CHEAP.hash(PASSWORD)
    core = Server(attrs.evolve(Config(), accounts=(Account("moda", stored),)))
    verify = Recorder()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(Verifier(core, verify=verify).run)
        client, outbox = start_login(core, "guesser", account="nobody")
        await wait_for(lambda: b" 904 " in outbox.take())  # even though the check said yes
        nursery.cancel_scope.cancel()
    [decoy] = verify.hashes
    assert decoy != stored and extract_parameters(decoy) == extract_parameters(stored)
    assert client.account is None and core.stats.login_failures["unknown_name"] == 1


def test_a_decoy_has_the_parameters_most_hashes_have():
    hashes = [OTHER.hash("a"), CHEAP.hash("b"), CHEAP.hash("c"), "not a hash"]
    assert extract_parameters(decoy_hash(hashes)) == extract_parameters(hashes[1])
    assert extract_parameters(decoy_hash(hashes[:2])) == extract_parameters(hashes[0])  # a tie: the first
    assert extract_parameters(decoy_hash([])) == extract_parameters(PasswordHasher().hash("x"))  # confchat passwd's
    assert decoy_hash(hashes[1:2]) != decoy_hash(hashes[1:2])  # a random secret each time


def test_accounts_and_operators_have_a_decoy_each():
    config = Config(accounts=(Account("moda", CHEAP.hash("a")),), opers=(Oper("boss", OTHER.hash("b")),))
    decoys = decoy_hashes(config)
    assert extract_parameters(decoys["account"]) == extract_parameters(config.accounts[0].password_hash)
    assert extract_parameters(decoys["oper"]) == extract_parameters(config.opers[0].password_hash)
