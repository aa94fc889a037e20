"""Password hashes (argon2id) for operator and staff accounts.

The config holds only hashes (``confchat passwd`` prints them); a check reads
its parameters from the stored hash. A check is slow on purpose (about 0.1 s
and 64 MiB with argon2-cffi's defaults), so the core never makes one: it asks
for it (core/logins.py) and the shell runs :func:`verify_password` in a worker
thread (:mod:`confchat.verifier`). :func:`hash_password` uses the same
defaults as ``confchat passwd``.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True if ``password`` matches; a malformed hash never matches."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
