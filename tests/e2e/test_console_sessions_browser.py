"""Sessions and passwords in a real browser (issue 8, findings 7 and 8) against `gongkai serve`.

A cookie copied into a second browser stops working the moment its owner signs out, and
the password page refuses 12345678, naming the rule.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.service import Service
from tests.e2e.test_console_browser import (
    DESKTOP,
    PASSWORD,
    Browser,
    browser,
    expect,
    sandbox,
    service,
    signed_in,
)

__all__ = ["browser", "sandbox", "service"]  # the fixtures
pytestmark = pytest.mark.slow


def test_a_copied_cookie_stops_working_after_sign_out(browser: Browser, service: Service) -> None:
    owner = signed_in(browser, service, "shenhe")
    cookies = [c for c in owner.context.cookies() if c["name"] == "gk_session"]
    assert len(cookies) == 1
    assert cookies[0]["httpOnly"]
    thief = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    thief.add_cookies(cookies)  # type: ignore[arg-type]
    stolen = thief.new_page()
    stolen.goto(f"{service.base}/console/")
    expect(stolen.get_by_role("heading", level=1)).to_contain_text("您好")  # the copy works

    owner.get_by_role("link", name="登录会话").click()
    expect(owner.get_by_role("heading", level=1)).to_have_text("我的登录会话")
    expect(owner.get_by_text("当前设备")).to_be_visible()
    owner.get_by_role("button", name="退出", exact=True).click()
    expect(owner).to_have_url(re.compile(r"/console/login"))

    stolen.goto(f"{service.base}/console/")
    expect(stolen).to_have_url(re.compile(r"/console/login\?next="))
    expect(stolen.get_by_role("button", name="登录")).to_be_visible()
    thief.close()
    owner.context.close()


def test_12345678_is_refused_with_the_rule_shown(browser: Browser, service: Service) -> None:
    page = signed_in(browser, service, "bianji")
    page.get_by_role("link", name="修改密码").click()
    page.locator("#f-current").fill(PASSWORD)
    page.locator("#f-new").fill("12345678")
    page.locator("#f-confirm").fill("12345678")
    page.get_by_role("button", name="保存新密码").click()
    error = page.locator("#e-new")
    expect(error).to_contain_text("至少需要 10 个字符")
    expect(page.locator("#h-new")).to_contain_text("大写字母、小写字母、数字、符号中的至少三类")
    expect(page.locator("#f-new")).to_have_attribute("aria-invalid", "true")
    # The old password still signs in.
    page.context.close()
    again = signed_in(browser, service, "bianji")
    again.context.close()
