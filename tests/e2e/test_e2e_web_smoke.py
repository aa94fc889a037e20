"""The web pages load in a real browser with a strict CSP and no errors."""

from __future__ import annotations

import http.client


def test_pages_are_served_with_security_headers(server):
    for path in ("/", "/moderator", "/guest", "/embed"):
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode()
        assert response.status == 200, path
        policy = response.getheader("Content-Security-Policy")
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert '<html lang="en">' in body and 'id="confchat-settings"' in body


def test_language_follows_the_browser(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    conn.request("GET", "/", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    body = conn.getresponse().read().decode()
    assert '<html lang="fr">' in body and "Questions en direct" in body


def test_static_files_refuse_path_tricks(server):
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/irc.js.bak", "/static/"):
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
        conn.request("GET", path)
        assert conn.getresponse().status == 404, path


def test_the_visitor_page_runs_in_chromium(server, new_page):
    page = new_page()
    page.goto(f"http://127.0.0.1:{server.http_port}/")
    assert page.title().startswith("Live questions")
    page.wait_for_load_state("networkidle")
    assert page.errors == []
