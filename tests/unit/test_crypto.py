"""Secrets at rest: one server key, shared by every process that starts at once."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from storage.crypto import SecretBox, load_key, mask


class TestKeys:
    def test_processes_starting_together_share_one_key(self, tmp_path: Path) -> None:
        """Sixteen concurrent first starts all read the same key, and no temp file stays."""
        key_file = tmp_path / "secret.key"
        with ThreadPoolExecutor(max_workers=16) as pool:
            keys = set(pool.map(lambda _: load_key("", key_file), range(16)))
        assert len(keys) == 1
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        assert [p.name for p in tmp_path.iterdir()] == ["secret.key"]

    def test_an_explicit_key_wins(self, tmp_path: Path) -> None:
        """GONGKAI_SECRET_KEY is used as given and no file is written."""
        key = load_key("", tmp_path / "a")  # a valid Fernet key
        assert load_key(key.decode(), tmp_path / "b") == key
        assert not (tmp_path / "b").exists()


class TestSecretBox:
    def test_round_trip_and_wrong_key(self, tmp_path: Path) -> None:
        """A sealed secret opens with its key and not with another one."""
        box = SecretBox(load_key("", tmp_path / "one"))
        sealed = box.seal("微信AppSecret-123")
        assert "AppSecret" not in sealed
        assert box.open(sealed) == "微信AppSecret-123"
        with pytest.raises(ValueError, match="cannot be decrypted"):
            SecretBox(load_key("", tmp_path / "two")).open(sealed)
        assert "hidden" in repr(box)

    def test_mask_shows_only_that_a_secret_is_set(self) -> None:
        """Pages show 已设置 and at most the last two characters."""
        assert mask("") == "未设置"
        assert mask("abcdefghij") == "已设置（…ij）"
        assert "abc" not in mask("abcdefgh")


def test_key_file_is_not_world_readable_even_with_a_loose_umask(tmp_path: Path) -> None:
    """The key file is 0600 whatever the process umask."""
    old = os.umask(0)
    try:
        load_key("", tmp_path / "k")
    finally:
        os.umask(old)
    assert oct((tmp_path / "k").stat().st_mode & 0o777) == "0o600"
