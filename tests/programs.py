"""Real programs the tests drive (HAProxy, nginx, Redis, systemd): finding
them, filling the shipped config templates, stopping them.

A missing program skips its test, or fails it when ``CI`` is set (where
scripts/install-test-deps has installed it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from redis_server import free_port  # noqa: F401  (a free loopback port, for the tests that import it here)


def binary(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        message = f"{name} not installed (Debian: apt-get install {package}; see scripts/install-test-deps)"
        if os.environ.get("CI"):
            pytest.fail(message + " (required when CI is set)")
        pytest.skip(message)
    return path


def fill(template: Path, values: dict[str, str]) -> str:
    """A shipped template (``@NAME@`` placeholders) with ``values`` in it."""
    text = template.read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    assert "@" not in re.sub(r"#.*", "", text), f"a placeholder of {template.name} is left unfilled"
    return text


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
