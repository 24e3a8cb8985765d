"""Regenerating the built-in static site from the database (``gongkai site rebuild``).

What is public is what the ledger says: for each lineage, the newest revision whose
website delivery is published. Publication goes on meanwhile: workers wait on the site
lock while an organization is rebuilt.
"""

from __future__ import annotations

from bot.dispatcher import publishable
from bot.settings import Settings
from channels.base import Publishable
from channels.website import StaticWebsite
from storage.delivery import State
from storage.models import Delivery

__all__ = ["plan_rebuild", "public_items", "static_site"]


async def public_items(org_code: str | None = None) -> dict[str, list[Publishable]]:
    """Per organization, the publishable of each public lineage, oldest publication first."""
    query = Delivery.filter(channel="website", state=State.PUBLISHED)
    if org_code:
        query = query.filter(item__organization__code=org_code)
    deliveries = await query.prefetch_related("item__organization").order_by("published_at", "id")
    newest: dict[tuple[str, int], Publishable] = {}
    for delivery in deliveries:
        pub = publishable(delivery)
        held = newest.get((pub.org_code, pub.lineage_id))
        if held is None or held.revision < pub.revision:
            newest[pub.org_code, pub.lineage_id] = pub
    by_org: dict[str, list[Publishable]] = {}
    for (org, _lineage), pub in newest.items():
        by_org.setdefault(org, []).append(pub)
    return by_org


def static_site(settings: Settings) -> StaticWebsite:
    """The static website channel as the workers build it."""
    return StaticWebsite(settings.site_dir, base_url=settings.site_base_url.rstrip("/"))


async def plan_rebuild(
    settings: Settings, org_code: str | None = None
) -> dict[str, list[Publishable]]:
    """What each organization's site must show; organizations with a folder on the site
    but nothing public any more get an empty list (their site is emptied)."""
    by_org = await public_items(org_code)
    if org_code:
        by_org.setdefault(org_code, [])
    elif settings.site_dir.is_dir():
        for folder in settings.site_dir.iterdir():
            if folder.is_dir() and not folder.name.startswith("."):
                by_org.setdefault(folder.name, [])
    return dict(sorted(by_org.items()))
