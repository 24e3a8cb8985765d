"""`gongkai site rebuild`: the static site regenerated from what the database says is public."""

from __future__ import annotations

import re
import shutil

import pytest

from bot import publishing
from bot.settings import Settings
from bot.site_rebuild import plan_rebuild, static_site
from tests.integration.helpers import dispatcher, make_org, queue

pytestmark = pytest.mark.usefixtures("database")


async def test_rebuild_shows_the_published_items_and_not_the_withdrawn(
    settings: Settings,
) -> None:
    """After the site folder is lost, a rebuild lists the two public items, not the withdrawn."""
    settings.ensure_dirs()
    site = static_site(settings)
    org = await make_org()
    items = [await queue(org, {"website": site}, title=f"第{n}号通知") for n in (1, 2, 3)]
    await dispatcher({"website": site}).run_until_idle()
    await publishing.withdraw(items[1], reason="内容有误", channels={"website": site})
    shutil.rmtree(settings.site_dir / "tiande")

    plan = await plan_rebuild(settings)
    assert [pub.item_id for pub in plan["tiande"]] == [items[0].id, items[2].id]
    for code, pubs in plan.items():
        await site.rebuild(code, pubs)

    index = (settings.site_dir / "tiande" / "index.html").read_text("utf-8")
    assert "第1号通知" in index
    assert "第3号通知" in index
    assert "第2号通知" not in index
    linked = set(re.findall(r'href="items/(\d+)\.html"', index))
    assert linked == {str(items[0].id), str(items[2].id)}
    assert all((settings.site_dir / "tiande" / "items" / f"{n}.html").exists() for n in linked)
    assert not (settings.site_dir / "tiande" / "items" / f"{items[1].id}.html").exists()


async def test_the_plan_is_per_organization(settings: Settings) -> None:
    """The plan names each published item once under its organization; an organization
    asked for by name with nothing public gets an empty list (its site is emptied)."""
    settings.ensure_dirs()
    org = await make_org("lianhe", "联合乡人民政府")
    site = static_site(settings)
    await queue(org, {"website": site}, title="通知")
    await dispatcher({"website": site}).run_until_idle()
    plan = await plan_rebuild(settings, "lianhe")
    assert [(p.title, p.revision) for p in plan["lianhe"]] == [("通知", 1)]
    assert await plan_rebuild(settings, "nobody") == {"nobody": []}
