"""Log lines as text or JSON, carrying the bound item and delivery ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import IdsFilter, JsonFormatter, TextFormatter, bind_ids, log_ids


@pytest.fixture
def stream() -> Iterator[tuple[logging.Logger, logging.Handler, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(IdsFilter())
    logger = logging.getLogger("gongkai.test-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, handler, out
    logger.removeHandler(handler)


def test_json_lines_carry_the_bound_ids(
    stream: tuple[logging.Logger, logging.Handler, io.StringIO],
) -> None:
    """Inside log_ids every JSON line has the ids as fields; outside, none."""
    logger, handler, out = stream
    handler.setFormatter(JsonFormatter())
    with log_ids(item=3, delivery=7):
        logger.info("发布到网站 %s", "ok")
        with log_ids(delivery=8):
            logger.warning("retry")
    logger.info("idle")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(ln.get("item"), ln.get("delivery")) for ln in lines] == [(3, 7), (3, 8), (None, None)]
    assert lines[0]["message"] == "发布到网站 ok"
    assert lines[0]["level"] == "INFO"
    assert lines[0]["logger"] == "gongkai.test-logs"
    assert lines[0]["time"].endswith("+00:00")


def test_json_lines_keep_the_exception(
    stream: tuple[logging.Logger, logging.Handler, io.StringIO],
) -> None:
    """An exception's traceback is one field of the same line, not extra lines."""
    logger, handler, out = stream
    handler.setFormatter(JsonFormatter())
    try:
        raise ValueError("坏了")
    except ValueError:
        logger.exception("failed")
    (line,) = out.getvalue().splitlines()
    assert "ValueError: 坏了" in json.loads(line)["exception"]


def test_text_lines_end_with_the_ids(
    stream: tuple[logging.Logger, logging.Handler, io.StringIO],
) -> None:
    """A text line ends with key=value for each bound id."""
    logger, handler, out = stream
    handler.setFormatter(TextFormatter())
    with log_ids(item=3, delivery=None):
        logger.info("queued")
    assert out.getvalue().rstrip().endswith("INFO gongkai.test-logs queued item=3")


async def test_ids_bound_in_a_task_stay_in_that_task(
    stream: tuple[logging.Logger, logging.Handler, io.StringIO],
) -> None:
    """bind_ids in one delivery's task never labels another task's lines."""
    import asyncio

    logger, handler, out = stream
    handler.setFormatter(JsonFormatter())

    async def run(delivery: int) -> None:
        bind_ids(delivery=delivery)
        await asyncio.sleep(0)
        logger.info("step")

    await asyncio.gather(run(1), run(2))
    logger.info("after")
    seen = [json.loads(line).get("delivery") for line in out.getvalue().splitlines()]
    assert sorted(seen[:2]) == [1, 2]
    assert seen[2] is None
