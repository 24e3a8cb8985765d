"""Secrets at rest (WeChat AppSecret, callback token, AES key): Fernet with one server key.

The key comes from ``GONGKAI_SECRET_KEY`` or, when that is unset, from ``secret.key`` in
the data folder, created once with mode 0600. Back it up with the database: without it
the stored secrets cannot be read (they can be entered again).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Encrypts and decrypts short secrets; never logs or shows them."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise ValueError("a stored secret cannot be decrypted with this server key") from exc


def load_key(explicit: str, key_file: Path) -> bytes:
    """The configured key, or the one in ``key_file`` (made on first use)."""
    if explicit:
        return explicit.encode("ascii")
    if key_file.exists():
        return key_file.read_bytes().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    # Several processes may start at once: write a private temp file, then link it into
    # place; whoever loses the race reads the winner's key, never a half-written one.
    temp = key_file.with_name(f".{key_file.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(Fernet.generate_key() + b"\n")
    try:
        os.link(temp, key_file)
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    return key_file.read_bytes().strip()


def mask(secret: str) -> str:
    """What a page may show of a secret: that it is set, and its last two characters."""
    return "未设置" if not secret else f"已设置（…{secret[-2:]}）" if len(secret) > 8 else "已设置"
