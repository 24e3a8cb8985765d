"""The staff console in a real browser (Debian's chromium via Playwright) against `gongkai serve`.

An editor writes an item for the website and the notice board, a reviewer approves it,
the editor watches it publish without reloading, confirms the posting, and finds the
count on the report page. Each main page is saved as a screenshot in
test-artifacts/console/ (1366×768, and the dashboard at 390×844) for people to look at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.demo import SANDBOX_APP_ID, SANDBOX_GH_ID, SANDBOX_SECRET
from tests.e2e.service import ROOT, Service, gongkai
from tests.fakes.wechat import FakeWeChat

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

pytestmark = pytest.mark.slow
if os.environ.get("GONGKAI_REQUIRE_BROWSER") == "1":  # CI: a missing browser is a failure
    import playwright.sync_api as playwright_api
else:
    playwright_api = pytest.importorskip("playwright.sync_api")
Browser = playwright_api.Browser
Page = playwright_api.Page
expect = playwright_api.expect

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SHOTS = ROOT / "test-artifacts" / "console"
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
PASSWORD = "Gongkai-demo1"  # bot.demo.DEMO_PASSWORD
TITLE = "关于开展2025年春季植树活动的通知"
BODY = (
    "各村委会：\n\n定于3月12日上午在乡政府后山开展植树活动，请各村组织党员干部参加。\n\n"
    "- 集合时间：8:00\n- 集合地点：乡政府大院\n- 联系电话：乡林业站 0432-68123456"
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[FakeWeChat]:
    """The WeChat sandbox the demo connects 天德乡's account to."""
    with FakeWeChat.start(
        appid=SANDBOX_APP_ID, secret=SANDBOX_SECRET, gh_id=SANDBOX_GH_ID, mass_delay=0.2
    ) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, sandbox: FakeWeChat) -> Iterator[Service]:
    data = tmp_path_factory.mktemp("console-browser")
    env = {
        **os.environ,
        "GONGKAI_DATA_DIR": str(data / "data"),
        "GONGKAI_DATABASE_URL": "",
        "GONGKAI_WECHAT_API_BASE": sandbox.api_base,
        "GONGKAI_WECHAT_POLL_INTERVAL_SECONDS": "0",  # no callback server here: poll at once
        "GONGKAI_DISPATCH_INTERVAL_SECONDS": "0.2",
        "GONGKAI_SWEEP_INTERVAL_SECONDS": "1",
        "GONGKAI_SHUTDOWN_GRACE_SECONDS": "5",
    }
    gongkai(["init", "--demo"], env)
    running = Service(env, data / "serve.log")
    yield running
    running.terminate()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("GONGKAI_REQUIRE_BROWSER") == "1":
            pytest.fail("Debian's chromium is required (make test installs it)")
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def signed_in(browser: Browser, service: Service, username: str, **context: Any) -> Page:
    options: dict[str, Any] = {"viewport": DESKTOP, "locale": "zh-CN", **context}
    page = browser.new_context(**options).new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # data-confirm questions: yes
    page.goto(f"{service.base}/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("您好")
    return page


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_write_review_publish_post_and_count(
    browser: Browser, service: Service, sandbox: FakeWeChat
) -> None:
    login = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
    login.goto(f"{service.base}/console/")
    expect(login).to_have_url(re.compile(r"/console/login"))
    shot(login, "01-login")

    # The editor writes the item, looking at the preview first.
    editor = signed_in(browser, service, "bianji")
    editor.get_by_role("navigation", name="主导航").get_by_role("link", name="信息").click()
    expect(editor.get_by_role("heading", level=1)).to_be_visible()
    shot(editor, "03-items")
    editor.goto(f"{service.base}/console/items/new")
    editor.get_by_label("标题").fill(TITLE)
    editor.get_by_label("正文").fill(BODY)
    for channel in ("政府网站", "公开栏", "政务微信"):
        box = editor.get_by_role("checkbox", name=re.compile(channel))
        if not box.is_checked():
            box.check()
    wechat = editor.frame_locator("#preview-wechat")
    expect(wechat.get_by_text("集合地点", exact=False).first).to_be_visible(timeout=15_000)
    shot(editor, "04-editor-preview")
    editor.get_by_role("button", name="提交审核").click()
    expect(editor).to_have_url(re.compile(r"/console/items/\d+$"))
    item_id = int(editor.url.rsplit("/", 1)[1])
    expect(editor.get_by_text("审核", exact=False).first).to_be_visible()

    # A second person reviews it; the author could not.
    reviewer = signed_in(browser, service, "shenhe")
    reviewer.get_by_role("link", name="审核", exact=True).click()
    expect(reviewer.get_by_role("link", name=TITLE)).to_be_visible()
    shot(reviewer, "06-review-list")
    reviewer.get_by_role("link", name=TITLE).click()
    expect(reviewer.get_by_role("heading", name=TITLE)).to_be_visible()
    shot(reviewer, "07-review-item")
    reviewer.get_by_role("button", name="通过").click()
    expect(reviewer.locator("#e-check")).to_contain_text("未确认")  # the error sits by the checks
    for name in ("保密", "个人信息", "敏感词与错别字", "导向"):
        reviewer.get_by_role("checkbox", name=re.compile(f"^{name}")).check()
    reviewer.get_by_role("button", name="通过").click()
    # The scan marked the phone number: passing it needs a written reason.
    expect(reviewer.locator("mark", has_text="0432-68123456").first).to_be_visible()
    expect(reviewer.locator("#e-override_reason")).to_be_visible()
    reviewer.get_by_label("说明").fill("乡林业站的办公电话，本来就对外公开")
    reviewer.get_by_role("button", name="通过").click()
    expect(reviewer.get_by_role("status").first).to_contain_text("已通过审核")

    # The editor's detail page follows the deliveries without a reload.
    timeline = editor.locator("#timeline")
    expect(timeline).to_contain_text("已发布", timeout=30_000)
    expect(timeline).to_contain_text(re.compile("张贴|待确认"), timeout=30_000)
    wechat_card = timeline.locator("article.channel-card", has_text="政务微信")
    expect(wechat_card).to_contain_text("已发布", timeout=30_000)
    assert [a["title"] for job in sandbox.sent_mass() for a in job.articles] == [TITLE]
    shot(editor, "05-item-detail")

    # The notice is printed and posted.
    editor.goto(f"{service.base}/console/print")
    card = editor.locator("article.print-card", has_text=TITLE)
    expect(card).to_be_visible()
    card.get_by_label("张贴地点").fill("乡政府大院公开栏")
    shot(editor, "08-print-queue")
    card.get_by_role("button", name="标记已张贴").click()
    expect(editor.locator("article.print-card", has_text=TITLE)).to_have_count(0)

    # The report counts it once, on the website and in 其他方式 (the notice board).
    editor.goto(f"{service.base}/console/report")
    tally = editor.locator("table.tally")
    for row in ("主动公开信息（合计）", "政府网站公开", "政务微信公开", "其他方式公开"):
        expect(tally.get_by_role("row", name=re.compile(row))).to_contain_text("1 条")
    shot(editor, "10-report")
    tally.get_by_role("row", name=re.compile("其他方式公开")).get_by_role("link").click()
    expect(editor.get_by_role("link", name=TITLE)).to_have_attribute(
        "href", f"/console/items/{item_id}"
    )
    editor.goto(f"{service.base}/console/")
    expect(editor.locator(".bars")).to_contain_text("1 条")
    shot(editor, "02-dashboard")

    # The administrator's pages.
    admin = signed_in(browser, service, "guanli")
    admin.get_by_role("link", name="渠道设置").click()
    admin.get_by_role("button", name=re.compile("测试连接.*公开栏")).click()
    expect(admin.locator("#result-noticeboard")).to_contain_text("打印队列可用")
    shot(admin, "09-channels")
    admin.get_by_role("link", name="用户与角色").click()
    expect(admin.get_by_role("cell", name="bianji")).to_be_visible()
    shot(admin, "11-users")
    admin.get_by_role("link", name="审计日志").click()
    expect(admin.get_by_role("cell", name="审核通过").first).to_be_visible()
    shot(admin, "12-audit")

    phone = signed_in(browser, service, "bianji", viewport=PHONE, is_mobile=True)
    shot(phone, "13-dashboard-phone")
    assert (SHOTS / "13-dashboard-phone.png").stat().st_size > 0
