"""WeChat: API calls per published item, and channel throughput against a raw HTTP replay.

Everything runs over real loopback HTTP against the WeChat emulator (``tests.fakes.wechat``),
through the real stack: ``bot.app.open_runtime`` (SQLite in a temp directory, the
database-backed token, media and job stores), ``bot.publishing.queue``, the real
``Dispatcher``, ``WeChatChannel``, ``WeChatApi`` and wechatpy. Items are urgent, so they
go at once instead of waiting for the account's daily slot.

Every HTTP request the emulator receives is counted: ``stable_token``, uploads
(``material/add_material`` for covers, ``media/uploadimg`` for body images), ``draft/add``,
``message/mass/sendall`` and the confirmation poll ``message/mass/get``. The bench items
have no body images, so no ``uploadimg`` calls are expected.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot import publishing
from bot.app import Runtime, open_runtime
from bot.publishing import ItemInput
from bot.settings import Settings
from bot.wechat_events import MassEvent, apply_job_event
from channels.wechat import MONTHLY_BROADCASTS
from channels.wechat.cover import default_cover
from storage.delivery import State
from storage.models import Delivery, Organization
from tests.bench import Figure, median, verdict
from tests.bench.outbox_bench import item_text
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wechat_api import Reply
from tests.fakes.wechat_state import Kind

BATCH = 8  # WeChatChannel.batch_limit: articles per draft and per broadcast
SECRET = "bench-wechat-secret"
MASS_DELAY = 0.05  # seconds the emulator takes to finish a broadcast
DRAIN_LIMIT_SECONDS = 1800.0
POLL = "message/mass/get"
API_ORDER = (
    "stable_token",
    "material/add_material",
    "media/uploadimg",
    "draft/add",
    "message/mass/sendall",
    POLL,
)
LEARNED_KEYS = ("access_token", "media_id", "msg_id", "msg_data_id", "publish_id", "url")


# -- the emulator, recording what it answered ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Exchange:
    """One API request as the emulator received it, with the JSON it answered."""

    method: str
    target: str
    content_type: str
    body: bytes
    reply: dict[str, Any]


class RecordingWeChat(FakeWeChat):
    """The emulator, also keeping each request and its answer so the raw loop can replay it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.exchanges: list[Exchange] = []

    def dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Reply:
        reply = super().dispatch(method, target, headers, body, client_ip)
        exchange = Exchange(
            method, target, headers.get("content-type", ""), body, dict(reply.payload or {})
        )
        self.exchanges.append(exchange)
        return reply


def app_id(index: int) -> str:
    """The appid of the ``index``-th benchmark account (wx + 16 hex digits, like WeChat's)."""
    return f"wx{index + 1:016x}"


def start_emulator(index: int, broadcasts: int, kind: Kind) -> RecordingWeChat:
    """An emulator for one account; a service account may mass-send ``broadcasts`` a day."""
    emu = RecordingWeChat.start(
        appid=app_id(index),
        secret=SECRET,
        kind=kind,
        mass_delay=MASS_DELAY,
        service_mass_daily=max(broadcasts, 1),
    )
    assert isinstance(emu, RecordingWeChat)  # start() is typed as returning the base class
    return emu


@contextlib.contextmanager
def emulators(
    count: int, broadcasts: int, kind: Kind = "service"
) -> Iterator[list[RecordingWeChat]]:
    """``count`` running emulators, stopped on exit."""
    started: list[RecordingWeChat] = []
    try:
        for index in range(count):
            started.append(start_emulator(index, broadcasts, kind))
        yield started
    finally:
        for emu in started:
            emu.stop()


# -- the Gongkai side ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def bench_runtime(concurrency: int) -> AsyncIterator[Runtime]:
    """The composition root on a temp SQLite database, no scheduler (we drive the dispatcher)."""
    with tempfile.TemporaryDirectory(prefix="gongkai-bench-wechat-") as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url="",
            worker_id="bench",
            dispatch_concurrency=concurrency,
        )
        async with open_runtime(settings, run_worker=False) as runtime:
            yield runtime


async def add_account(runtime: Runtime, index: int, emu: FakeWeChat) -> Organization:
    """An organization whose account (of the emulator's kind) is served by ``emu``."""
    org = await Organization.create(code=f"wxbench{index:02d}", name=f"第{index}乡人民政府")
    await runtime.wechat.accounts.configure(
        org, app_id=emu.appid, app_secret=SECRET, kind=emu.kind, api_base=emu.api_base
    )
    return org


async def queue_items(runtime: Runtime, owners: Sequence[Organization], first: int = 1) -> None:
    """Queue one urgent WeChat item per entry of ``owners``, in that order."""
    for number, org in enumerate(owners, start=first):
        title, body = item_text(number)
        data = ItemInput(org=org, title=title, body=body, channels=("wechat",), urgent=True)
        await publishing.queue(
            data, channels=runtime.channels, max_body_bytes=runtime.settings.max_body_bytes
        )


async def broadcasts_finished(emus: Sequence[FakeWeChat], limit: float = 30.0) -> None:
    """Wait until the emulators have finished every broadcast they accepted."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if all(job.finished for emu in emus for job in emu.sent_mass()):
            return
        await asyncio.sleep(MASS_DELAY / 2)
    raise TimeoutError("the emulator did not finish its broadcasts")


async def confirm_all(runtime: Runtime, emus: Sequence[FakeWeChat]) -> dict[str, int]:
    """Once the emulators finished their broadcasts, confirm as production does: WeChat's
    MASSSENDJOBFINISH event (applied as the callback endpoint would, no API call), then the
    poll pass that turns finished jobs into published deliveries; return delivery states."""
    await broadcasts_finished(emus)
    for emu in emus:
        for job in emu.sent_mass():
            event = MassEvent(
                msg_id=str(job.msg_id),
                status=job.final_status,
                total_count=job.total_count,
                filter_count=job.filter_count,
                sent_count=job.filter_count - job.error_count,
                error_count=job.error_count,
                article_urls=tuple(job.article_urls),
            )
            await apply_job_event(event, runtime.wechat.jobs, app_id=emu.appid)
    accepted = await Delivery.filter(channel="wechat", state=State.ACCEPTED).count()
    await runtime.dispatcher.poll_confirmations(limit=max(accepted, 1))
    states: Counter[str] = Counter()
    for delivery in await Delivery.filter(channel="wechat").only("state"):
        states[delivery.state] += 1
    return dict(states)


# -- calls per item ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallCount:
    """The API calls one round of publishing made, by API name."""

    items: int
    by_api: Counter[str] = field(default_factory=Counter)
    states: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_api.values())

    @property
    def per_item(self) -> float:
        return self.total / self.items

    @property
    def per_item_without_poll(self) -> float:
        return (self.total - self.by_api[POLL]) / self.items

    @property
    def broadcasts(self) -> int:
        return self.by_api["message/mass/sendall"]

    def breakdown(self) -> str:
        names = [n for n in API_ORDER if self.by_api[n]] + sorted(
            n for n in self.by_api if n not in API_ORDER
        )
        return ", ".join(f"{name} {self.by_api[name]}" for name in names)


async def publish_round(
    runtime: Runtime, emu: FakeWeChat, org: Organization, size: int, first: int
) -> CallCount:
    """Queue ``size`` items of ``org``, drain, confirm; count the calls this round made."""
    before = len(emu.calls)
    await queue_items(runtime, [org] * size, first)
    await runtime.dispatcher.run_until_idle(limit_seconds=DRAIN_LIMIT_SECONDS)
    states = await confirm_all(runtime, [emu])
    made = Counter(call.name for call in emu.calls[before:])
    return CallCount(size, made, states)


async def cold_and_warm(
    size: int, concurrency: int, rounds: int = 2, kind: Kind = "service"
) -> list[CallCount]:
    """Publish ``rounds`` rounds of ``size`` items on one fresh account: cold, then warm."""
    with emulators(1, broadcasts=MONTHLY_BROADCASTS, kind=kind) as (emu,):
        async with bench_runtime(concurrency) as runtime:
            org = await add_account(runtime, 0, emu)
            return [
                await publish_round(runtime, emu, org, size, first=1 + r * size)
                for r in range(rounds)
            ]


def call_lines(label: str, count: CallCount, target: float | None) -> Figure:
    """Print one calls-per-item figure with its breakdown; return its summary row."""
    met = verdict(count.per_item <= target + 1e-9) if target is not None else ""
    target_text = f"<= {target:.3g}" if target is not None else ""
    value = f"{count.per_item:.3f} ({count.per_item_without_poll:.3f} w/o poll)"
    print(
        f"{label:<34}: {count.total:3d} calls / {count.items} items = {count.per_item:.3f} "
        f"per item  target {target_text or '-'}: {met or 'info'}"
    )
    print(f"{'':<36}{count.breakdown()}")
    print(
        f"{'':<36}without the confirmation poll: {count.per_item_without_poll:.3f} per item; "
        f"broadcasts {count.broadcasts}; states {count.states}"
    )
    return Figure("wechat", f"calls/item {label}", value, target_text, met)


async def calls_per_item() -> list[Figure]:
    """Single article and batch of 8, cold and warm; plus a batch under default concurrency."""
    print(f"\n== WeChat API calls per published item (emulator over HTTP, n = {BATCH}) ==")
    print("counted: every request the emulator received (token, uploads, draft/add, sendall,")
    print("  mass/get confirmation polls). cold = new account: no stored token, cover not yet")
    print("  uploaded; warm = the same account's next round (token stored, cover uploaded).")
    print("  The channel uses one cover per account, so a batch uploads one cover, not n.")
    single = await cold_and_warm(1, concurrency=BATCH)
    batch = await cold_and_warm(BATCH, concurrency=BATCH)
    default_concurrency = Settings().dispatch_concurrency
    (default,) = await cold_and_warm(
        BATCH, concurrency=default_concurrency, rounds=1, kind="subscription"
    )
    figures = [
        call_lines("single article, cold", single[0], 4),
        call_lines("single article, warm", single[1], None),
        call_lines(f"batch of {BATCH}, cold", batch[0], 1 + 2 / BATCH),
        call_lines(f"batch of {BATCH}, warm", batch[1], 2 / BATCH),
        call_lines(f"{BATCH} at once, concurrency {default_concurrency}, subscr.", default, None),
    ]
    print(
        f"(all but the last line: service accounts, dispatch_concurrency {BATCH}, so one claim "
        f"holds a whole batch. Last line: a subscription account (1 broadcast a day) and the "
        f"default dispatch_concurrency {default_concurrency}: a claim never holds more "
        "deliveries than the concurrency, so the batch is cut, and what the first broadcast "
        "did not carry waits for the next day's slot)"
    )
    return figures


# -- throughput ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThroughputRun:
    """The channel drain of ``items`` and the raw replay of the same requests."""

    items: int
    accounts: int
    drain_seconds: float
    raw_seconds: float
    requests: int
    raw_errors: int
    calls: CallCount

    @property
    def rate(self) -> float:
        return self.items / self.drain_seconds

    @property
    def raw_rate(self) -> float:
        return self.items / self.raw_seconds


def owners_of(items: int, orgs: Sequence[Organization]) -> list[Organization]:
    """Each item's organization: whole batches of 8, ``MONTHLY_BROADCASTS`` batches per org."""
    return [orgs[(number // BATCH) // MONTHLY_BROADCASTS] for number in range(items)]


async def channel_drain(
    items: int, emus: Sequence[RecordingWeChat]
) -> tuple[float, CallCount, list[list[Exchange]]]:
    """Queue and drain ``items`` through the dispatcher; the drain's seconds, calls, requests."""
    async with bench_runtime(BATCH) as runtime:
        orgs = [await add_account(runtime, i, emu) for i, emu in enumerate(emus)]
        await queue_items(runtime, owners_of(items, orgs))
        started = time.perf_counter()
        await runtime.dispatcher.run_until_idle(limit_seconds=DRAIN_LIMIT_SECONDS)
        seconds = time.perf_counter() - started
        recorded = [list(emu.exchanges) for emu in emus]
        states = await confirm_all(runtime, emus)
    made = Counter(call.name for emu in emus for call in emu.calls)
    return seconds, CallCount(items, made, states), recorded


def substitute(data: bytes, subs: dict[bytes, bytes]) -> bytes:
    """Replace the ids the first emulators issued by those the replay's emulators issued."""
    for old, new in subs.items():
        data = data.replace(old, new)
    return data


def learn(subs: dict[bytes, bytes], old: dict[str, Any], new: dict[str, Any]) -> None:
    """Pair the ids of a recorded answer with those of the replayed one."""
    for key in LEARNED_KEYS:
        if old.get(key) is not None and new.get(key) is not None and old[key] != new[key]:
            subs[str(old[key]).encode()] = str(new[key]).encode()


async def replay(client: httpx.AsyncClient, base: str, exchanges: Sequence[Exchange]) -> int:
    """Send the recorded requests, in order, to ``base``; returns how many were answered
    with an error."""
    subs: dict[bytes, bytes] = {}
    errors = 0
    for ex in exchanges:
        target = substitute(ex.target.encode(), subs).decode()
        multipart = ex.content_type.startswith("multipart/")
        body = ex.body if multipart else substitute(ex.body, subs)
        headers = {"Content-Type": ex.content_type} if ex.content_type else {}
        response = await client.request(ex.method, base + target, content=body, headers=headers)
        answer = response.json()
        errors += response.status_code != 200 or bool(answer.get("errcode"))
        learn(subs, ex.reply, answer)
    return errors


async def raw_replay(recorded: Sequence[Sequence[Exchange]]) -> tuple[float, int]:
    """Replay each account's requests against fresh emulators with httpx; seconds, errors."""
    with emulators(len(recorded), broadcasts=MONTHLY_BROADCASTS) as fresh:
        async with httpx.AsyncClient(timeout=30) as client:
            started = time.perf_counter()
            errors = 0
            for emu, exchanges in zip(fresh, recorded, strict=True):
                errors += await replay(client, emu.base, exchanges)
            return time.perf_counter() - started, errors


async def run_throughput(items: int) -> ThroughputRun:
    """Drain ``items`` through the channel, then replay the same requests raw."""
    accounts = math.ceil(math.ceil(items / BATCH) / MONTHLY_BROADCASTS)
    with emulators(accounts, broadcasts=MONTHLY_BROADCASTS) as emus:
        drain_seconds, calls, recorded = await channel_drain(items, emus)
    raw_seconds, raw_errors = await raw_replay(recorded)
    return ThroughputRun(
        items=items,
        accounts=accounts,
        drain_seconds=drain_seconds,
        raw_seconds=raw_seconds,
        requests=sum(len(r) for r in recorded),
        raw_errors=raw_errors,
        calls=calls,
    )


def cover_render_ms() -> float:
    """Median milliseconds to render the default cover, which every prepare does."""
    font = Settings().pdf_font_path
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        default_cover("第0乡人民政府", font_path=font)
        timings.append((time.perf_counter() - started) * 1000)
    return median(timings)


def report_throughput(run: ThroughputRun) -> list[Figure]:
    """Print the throughput figures and return their summary rows."""
    ratio = run.rate / run.raw_rate
    published = run.calls.states.get(State.PUBLISHED, 0)
    complete = published == run.items
    print(f"\n== WeChat throughput: {run.items} urgent items, batches of {BATCH} ==")
    print(
        f"{run.accounts} service accounts (one emulator each, separate appids), "
        f"{MONTHLY_BROADCASTS} batches per account at most: the channel allows a service "
        f"account {MONTHLY_BROADCASTS} broadcasts a month and would defer the rest; each "
        f"emulator allows {MONTHLY_BROADCASTS} mass sends a day (service_mass_daily)."
    )
    print(f"dispatch_concurrency {BATCH}: one whole batch in flight at a time")
    print(f"delivery states after one confirmation poll: {run.calls.states}")
    print(f"calls: {run.calls.breakdown()} = {run.calls.per_item:.3f} per item")
    print(
        f"channel : {run.drain_seconds:7.2f} s  {run.rate:8.1f} items/s "
        "(dispatcher drain: all queued first, timed until all accepted)"
    )
    print(
        f"raw     : {run.raw_seconds:7.2f} s  {run.raw_rate:8.1f} items/s "
        f"(httpx replay of the same {run.requests} requests, {run.raw_errors} errors)"
    )
    print(f"ratio channel/raw: {ratio:.3f}  (for information, no target)")
    render = cover_render_ms()
    share = render * run.items / (run.drain_seconds * 1000)
    print(
        f"default cover render: {render:.1f} ms, done by every prepare before the upload "
        f"dedupe: about {share:.0%} of the channel's drain time"
    )
    bench = "wechat throughput"
    return [
        Figure(bench, "channel items/s", f"{run.rate:.1f}"),
        Figure(bench, "raw httpx items/s", f"{run.raw_rate:.1f}"),
        Figure(bench, "channel/raw", f"{ratio:.3f}"),
        Figure(bench, "calls/item (incl. poll)", f"{run.calls.per_item:.3f}"),
        Figure(bench, "all published", str(complete), "True", verdict(complete)),
    ]


async def main(items: int) -> list[Figure]:
    """Run the calls-per-item measurements and the throughput comparison."""
    figures = await calls_per_item()
    figures += report_throughput(await run_throughput(items))
    return figures
