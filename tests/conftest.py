import pytest
from redis_server import redis_server  # noqa: F401  (a real redis-server per test: tests/redis_server.py)


@pytest.fixture
def anyio_backend():
    """Async tests run on trio, through anyio's pytest plugin."""
    return "trio"
