"""Passwords (DESIGN §7): argon2id, at least 12 characters, no composition rules.

Input is capped before hashing (``MAX_LENGTH``), so a megabyte "password" costs nothing.
A login for an account that does not exist verifies against a dummy hash, so it takes the
time a wrong password takes.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 1024

# argon2id at OWASP's first recommended cost (19 MiB, 2 passes, 1 lane): about 25 ms on one
# core of a small server, so a burst of logins cannot take a cheap machine's memory.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY = _hasher.hash("hush: an account that does not exist")


def problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    return None


def hash_password(password: str) -> str:
    assert problem(password) is None
    return _hasher.hash(password)


def verify(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; an empty ``stored_hash`` (no account, or no password
    yet) is checked against a dummy, so it costs the same and never matches."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH] + "\x00"  # never matches, costs the same
    try:
        return _hasher.verify(stored_hash or _DUMMY, password) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False
