"""The API of channels with per-organization accounts, generated from the channel registry.

For each channel whose spec has an ``account``: ``GET`` and ``PUT
/api/v1/orgs/{org}/channels/<name>`` (administrators; secrets write-only, reported as
``<field>_set``) and ``POST …/test`` (the "test connection" button, which never posts).
"""

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from bot.web.deps import ADMINS, Principal, PrincipalDep, RuntimeDep, field_error
from channels.accounts import AccountInputError, AccountSpec
from channels.base import AccountBound, ChannelError
from channels.registry import account_specs
from storage.models import Organization

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


async def _org(principal: Principal, code: str) -> Organization:
    organization = await Organization.get_or_none(code=code)
    if organization is None or not principal.may_access(organization.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"organization {code!r} not found")
    return organization


def _typed(endpoint: Callable[..., Awaitable[Any]], **types: Any) -> None:
    """Give the generated endpoint's parameters the channel's own models, for FastAPI."""
    signature = inspect.signature(endpoint)
    params = [
        p.replace(annotation=types.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    returned = types.get("return", signature.return_annotation)
    endpoint.__signature__ = signature.replace(  # type: ignore[attr-defined]  # read by FastAPI
        parameters=params, return_annotation=returned
    )


def _add(name: str, spec: AccountSpec) -> None:
    action, path = f"settings.{name}", f"/orgs/{{org}}/channels/{name}"

    async def put(org: str, data: BaseModel, principal: PrincipalDep, runtime: RuntimeDep) -> Any:
        organization = await _org(principal, org)
        await principal.demand(organization.id, *ADMINS, action=action, target=f"org:{org}")
        store = runtime.accounts[name]
        async with principal.audited(action, org_id=organization.id, target=f"org:{org}") as change:
            try:
                saved = await store.write(organization.id, data)
            except AccountInputError as error:
                raise field_error(error.field, error.message) from error
            change.detail = {
                **saved.model_dump(),
                "secrets_changed": [f for f in spec.secret_fields if getattr(data, f, None)],
            }
        return saved

    async def get(org: str, principal: PrincipalDep, runtime: RuntimeDep) -> Any:
        organization = await _org(principal, org)
        principal.require(organization.id, *ADMINS)
        found = await runtime.accounts[name].read(organization.id)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {name} account configured")
        return found

    async def test(org: str, principal: PrincipalDep, runtime: RuntimeDep) -> dict[str, str]:
        organization = await _org(principal, org)
        await principal.demand(organization.id, *ADMINS, action=f"{action}_test")
        channel = runtime.channels.get(name)
        try:
            if not isinstance(channel, AccountBound):
                raise ChannelError(f"channel {name} is not enabled on this server")
            result = {"status": "ok", "message": await channel.check_account(organization.code)}
        except ChannelError as error:
            result = {"status": "error", "message": error.message}
        # nothing in the database changes: no transaction to bind it to
        await principal.record_test(
            f"{action}_test", org_id=organization.id, target=f"org:{org}", result=result
        )
        return result

    _typed(put, data=spec.input_model, **{"return": spec.output_model})
    _typed(get, **{"return": spec.output_model})
    summary = spec.title
    router.add_api_route(
        path,
        put,
        methods=["PUT"],
        response_model=spec.output_model,
        summary=f"Set the {summary}",
        name=f"put_{name}",
    )
    router.add_api_route(
        path,
        get,
        methods=["GET"],
        response_model=spec.output_model,
        summary=f"Read the {summary}",
        name=f"get_{name}",
    )
    router.add_api_route(
        f"{path}/test", test, methods=["POST"], summary=f"Test the {summary}", name=f"test_{name}"
    )


for _name, _spec in account_specs():
    _add(_name, _spec)
