"""Demo data: the seed township, its county, a token, console users, and its 2016 items (补录).

The 2016 records mirror the seed report: 10 items, 2 of them normative, 1 on the website,
8 on 政务微信 and 1 on the notice board, plus a third normative document formed in 2016
and published in 2017. ``gongkai report channels --org tiande --year 2016`` then prints
the seed's section 二 word for word.

When WeChat points at a loopback address (``make demo`` runs the emulator from
``tests/fakes/wechat.py`` on 127.0.0.1:8001), tiande's account is set up for that sandbox,
never for the real WeChat API.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from urllib.parse import urlsplit

from bot import demo_texts, publishing
from bot.app import wechat_stores
from bot.publishing import ItemInput
from bot.settings import Settings
from storage import users
from storage.console_models import User
from storage.ledger import BUSINESS_TZ
from storage.models import Organization
from storage.register_models import ReportText
from storage.tokens import create_token
from storage.wechat_models import WechatMedia, WechatToken

# The sandbox account; deploy/demo.sh starts the emulator with the same values.
SANDBOX_APP_ID = "wxdemo00000000000"
SANDBOX_SECRET = "demo-secret"  # noqa: S105 (the emulator's, not a real account's)
SANDBOX_CALLBACK_TOKEN = "demo-callback-token"  # noqa: S105
SANDBOX_GH_ID = "gh_demo000000"

# Console users for tiande (make demo prints them); only `gongkai init --demo` creates them.
# It meets the password policy (storage.users), and demo users need not change it.
DEMO_PASSWORD = "Gongkai-demo1"  # noqa: S105 (documented in the README, demo data only)
DEMO_USERS = (
    ("bianji", "王编辑", "editor"),
    ("shenhe", "李审核", "reviewer"),
    ("guanli", "张管理", "admin"),
)


def _at(month: int, day: int, year: int = 2016) -> dt.datetime:
    return dt.datetime(year, month, day, 9, 30, tzinfo=BUSINESS_TZ)


_SEED_2016: list[tuple[str, str, bool, int, int]] = [
    # title, channel, normative, month, day
    ("天德乡2016年春耕生产工作方案", "wechat", False, 3, 15),
    ("天德乡关于规范农村集体资产管理的通知", "website", True, 4, 8),
    ("天德乡2016年防汛工作安排", "wechat", False, 6, 1),
    ("天德乡新型农村合作医疗参合情况公示", "noticeboard", False, 6, 20),
    ("天德乡2016年秸秆禁烧工作实施方案", "wechat", True, 9, 12),
    ("天德乡村级公益事业一事一议财政奖补项目公示", "wechat", False, 10, 9),
    ("天德乡冬季安全生产大检查通知", "wechat", False, 11, 3),
    ("天德乡2016年低保对象审批结果", "wechat", False, 11, 28),
    ("天德乡关于做好冬季供暖保障工作的通知", "wechat", False, 12, 6),
    ("天德乡2016年政务公开工作总结", "wechat", False, 12, 30),
]


async def seed_demo(settings: Settings) -> str:
    """Create the demo organizations and history once; return a fresh token for tiande."""
    county, _ = await Organization.get_or_create(code="shulan", defaults={"name": "舒兰市人民政府"})
    township, created = await Organization.get_or_create(
        code="tiande", defaults={"name": "天德乡人民政府", "parent": county}
    )
    if created:
        records = [
            (
                ItemInput(
                    org=township,
                    title=title,
                    body=f"{title}。详见附件。",
                    category="工作动态",
                    normative=normative,
                    formed_on=_at(month, day).date(),
                    channels=[channel],
                    author="补录",
                ),
                _at(month, day),
            )
            for title, channel, normative, month, day in _SEED_2016
        ]
        late = _at(12, 28)
        records.append(
            (
                ItemInput(
                    org=township,
                    title="天德乡村规民约管理办法",
                    body="村规民约管理办法全文。",
                    category="政策文件",
                    normative=True,
                    formed_on=late.date(),
                    channels=["website"],
                    author="补录",
                ),
                _at(1, 6, year=2017),
            )
        )
        await publishing.import_published(records, max_body_bytes=settings.max_body_bytes)
        await ReportText.create(
            organization=township,
            year=2016,
            basic_situation=demo_texts.BASIC_SITUATION,
            problems=demo_texts.PROBLEMS,
            publication_url=demo_texts.PUBLICATION_URL,
            contact=demo_texts.CONTACT,
            title_org_name="舒兰市人民政府",
            submitted=True,
        )
    await seed_demo_users(township)
    if is_sandbox(settings.wechat_api_base):
        await configure_sandbox(settings, township)
    return await create_token("demo", township, review_exempt=True)


async def seed_demo_users(township: Organization) -> None:
    """The demo's console users, one per role, all with ``DEMO_PASSWORD`` (kept if present)."""
    for username, display_name, role in DEMO_USERS:
        user = await User.get_or_none(username=username)
        if user is None:
            user = await users.create_user(username, display_name, DEMO_PASSWORD, must_change=False)
        await users.set_role(user, township, role)


def is_sandbox(api_base: str) -> bool:
    """Whether the WeChat API base is on this machine (the emulator), not WeChat itself."""
    host = urlsplit(api_base).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def configure_sandbox(settings: Settings, township: Organization) -> None:
    """Point tiande's WeChat account at the sandbox, its broadcast slot open from now on.

    The slot is the current Beijing minute, so an item queued in the next
    ``wechat_slot_window_minutes`` goes out at once as today's broadcast. A subscription
    account has one broadcast a day; later items that day are free-published (已发表).
    The sandbox starts empty each time, so the token and uploads remembered from an
    earlier run are forgotten.
    """
    now = dt.datetime.now(BUSINESS_TZ)
    await wechat_stores(settings).accounts.configure(
        township,
        app_id=SANDBOX_APP_ID,
        app_secret=SANDBOX_SECRET,
        callback_token=SANDBOX_CALLBACK_TOKEN,
        original_id=SANDBOX_GH_ID,
        kind="subscription",
        mode="broadcast",
        slot_time=f"{now:%H:%M}",
        allow_publish_fallback=True,
        enabled=True,
    )
    await WechatToken.filter(app_id__startswith=SANDBOX_APP_ID).delete()  # every API address
    await WechatMedia.filter(app_id__startswith=SANDBOX_APP_ID).delete()
