"""A folder that cannot be written is not "database unavailable": the posting's photo on a
full disk answers 507, an unwritable folder 500, each naming the folder, and the posting
and its photo are stored together or not at all. SQLite and PostgreSQL.

Tests run as root, which ignores permission bits, so the unwritable folder is one whose
path runs through a regular file (nobody can create it), and the full disk is the
process's file-size limit (RLIMIT_FSIZE: the kernel refuses the write with EFBIG)."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot import review
from storage.files import FolderError
from storage.models import Delivery, Item, Posting, Publication
from tests.integration.console_world import World, world
from tests.integration.helpers import dispatcher
from tests.integration.test_console_auth import csrf_of
from tests.integration.test_console_items import PNG, item_id_of, write_item

__all__ = ["world"]  # the console fixture


async def _accepted_notice(world: World, client: httpx.AsyncClient) -> Delivery:
    item_id = item_id_of(await write_item(client, channels=["noticeboard"]))
    item = await Item.get(id=item_id)
    reviewer = review.Reviewer("李审核", world.users["td_reviewer"].id)
    await review.approve(item, reviewer, dict.fromkeys(review.CHECKS, True))
    await dispatcher(world.runtime.channels).run_until_idle()
    delivery = await Delivery.get(item_id=item_id)
    assert delivery.state == "accepted"
    return delivery


async def _post(client: httpx.AsyncClient, delivery: Delivery, photo: bytes) -> httpx.Response:
    token = await csrf_of(client, "/console/print")
    form = {"csrf_token": token, "location": "乡政府公开栏", "posted_by": "王编辑"}
    return await client.post(
        f"/console/print/{delivery.id}/posted",
        data={**form, "period_days": "10"},
        files={"photo": ("board.png", photo, "image/png")},
    )


async def _nothing_stored(delivery: Delivery, folder: Path) -> None:
    assert (await Delivery.get(id=delivery.id)).state == "accepted"
    assert await Posting.filter(delivery_id=delivery.id).count() == 0
    assert await Publication.filter(delivery_id=delivery.id).count() == 0
    if folder.is_dir():
        assert list(folder.iterdir()) == []  # no staged or half-written photo left


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Writes past ``limit`` bytes fail with EFBIG (Python ignores SIGXFSZ)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


async def test_an_unwritable_photo_folder_is_a_500_naming_it_and_stores_nothing(
    world: World,
) -> None:
    folder = world.runtime.settings.data_dir / "postings"
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_bytes(b"")  # a regular file where the folder should be: even root fails
    async with world.login("td_editor") as client:
        delivery = await _accepted_notice(world, client)
        answer = await _post(client, delivery, PNG)
        assert answer.status_code == 500, answer.text
        assert "database unavailable" not in answer.text
        assert str(folder) in answer.text
        assert "本次操作未保存" in answer.text
        await _nothing_stored(delivery, folder)

        folder.unlink()  # the administrator fixes the folder; the same posting now works
        done = await _post(client, delivery, PNG)
        assert done.status_code == 303, done.text
        assert (await Delivery.get(id=delivery.id)).state == "published"
        assert [p.name for p in folder.iterdir()] == [f"{delivery.id}.png"]
        photo = await client.get(f"/console/print/{delivery.id}/photo")
        assert (photo.status_code, photo.content) == (200, PNG)


async def test_a_full_disk_is_a_507_naming_the_folder_and_stores_nothing(world: World) -> None:
    folder = world.runtime.settings.data_dir / "postings"
    # Under the upload's 1 MB in-memory limit (so only the photo's own write meets the
    # limit), and above the limit set below (the SQLite file stays far under it).
    big = PNG + b"\x00" * (900 * 1024)
    async with world.login("td_editor") as client:
        delivery = await _accepted_notice(world, client)
        with file_size_limit(640 * 1024):
            answer = await _post(client, delivery, big)
        assert answer.status_code == 507, answer.text
        assert str(folder) in answer.text
        assert "磁盘空间不足" in answer.text
        await _nothing_stored(delivery, folder)
        json_answer = await client.get("/console/print")  # the session still works
        assert json_answer.status_code == 200


def test_a_real_enospc_maps_to_507_with_the_folder() -> None:
    """Writing to /dev/full is a genuine ENOSPC from the kernel."""
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        with pytest.raises(OSError, match="No space left") as raised:
            os.write(fd, b"photo")
    finally:
        os.close(fd)
    error = FolderError(raised.value, Path("/srv/gongkai/postings"))
    assert (error.errno, error.status_code) == (errno.ENOSPC, 507)
    assert error.message == "no space left to write to /srv/gongkai/postings; nothing was changed"
    assert "/srv/gongkai/postings" in error.message_zh
