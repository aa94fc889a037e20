"""The visitor page in a real browser on one node of a cluster, the
moderator on another (a real redis-server between them). The page sends its
questions labeled (IRCv3 labeled-response): it learns that a question is
held from the labeled answer, which in a cluster comes back from the log
(core/labels.py)."""

from __future__ import annotations

from playwright.sync_api import expect

from redis_server import RedisServer
from test_e2e_web_visitor import ask, config, join, mine, open_visitor, queue_item, staff, stream


def test_a_visitor_page_on_one_node_and_a_moderator_on_another(start_server, new_page, tmp_path) -> None:
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        settings = {**config(), "cluster": {"redis_url": redis.url}}
        n1, n2 = start_server(settings), start_server(settings)
        moda = staff(n2, "moda")
        page = new_page()
        open_visitor(page, n1)
        join(page, "carol")
        expect(page.locator(".connection")).to_have_text("Connected as carol")
        text = "Will the tram run at night?"
        ask(page, text)
        expect(mine(page, text)).to_contain_text("Awaiting moderation")
        expect(page.locator("#compose-feedback")).to_contain_text("It will appear once a moderator publishes it")
        moda.send(f"QUEUE #townhall APPROVE {queue_item(moda, text)}")
        expect(stream(page).locator("li.question").filter(has_text=text)).to_be_visible()
        expect(page.locator(".audience")).to_have_text("1 person in the audience")
    finally:
        redis.stop()
