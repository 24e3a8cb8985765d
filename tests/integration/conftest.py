"""An API client over the real ASGI app (its lifespan opens the database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from bot.app import Runtime
from bot.settings import Settings
from bot.web import create_app
from storage.models import Organization
from storage.tokens import create_token


@dataclass
class Api:
    client: httpx.AsyncClient
    app: FastAPI
    admin: dict[str, str]
    tiande: dict[str, str]
    lianhe: dict[str, str]

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    """The app with two townships under one county, and a token for each and for an admin.

    The townships' tokens are review-exempt administrators (管理员) of their township, so
    tests about other things may use every route; tests about roles make their own tokens.
    """
    app = create_app(settings, run_worker=False)
    async with app.router.lifespan_context(app):
        county = await Organization.create(code="shulan", name="舒兰市人民政府")
        tiande = await Organization.create(code="tiande", name="天德乡人民政府", parent=county)
        lianhe = await Organization.create(code="lianhe", name="联合乡人民政府", parent=county)
        tokens = [
            await create_token("admin", None, review_exempt=True),
            await create_token("天德乡编辑", tiande, role="admin", review_exempt=True),
            await create_token("联合乡编辑", lianhe, role="admin", review_exempt=True),
        ]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gongkai.test") as c:
            yield Api(c, app, *[{"Authorization": f"Bearer {t}"} for t in tokens])
