"""The metrics collector read against a core driven directly (no server
process): what it exports for counters the core keeps."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from confchat.config import Config
from confchat.core.outbox import Outbox
from confchat.core.server import Server
from confchat.metrics import exposition, registry_for


def samples(core: Server, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    body, _ = exposition(registry_for(core, transports=("tcp", "websocket")), None)
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == name
    }


def test_received_lines_are_exported_by_transport():
    core = Server(Config())
    tcp = core.connect("192.0.2.1", Outbox(10_000), "tcp")
    web = core.connect("192.0.2.2", Outbox(10_000), "websocket")
    assert tcp is not None and web is not None
    for line in (b"NICK alice", b"USER alice 0 * :Alice", b"PING x"):
        core.receive(tcp, line)
    core.receive(web, b"PING y")
    assert samples(core, "confchat_received_lines_total") == {
        (("transport", "tcp"),): 3.0,
        (("transport", "websocket"),): 1.0,
    }
