import pytest


@pytest.fixture
def anyio_backend():
    """Async tests run on trio, through anyio's pytest plugin."""
    return "trio"
