"""The 渠道设置 sections of channels with per-organization accounts, from the registry.

Each channel whose spec has an ``account`` gets one section on the page: its fields, the
values stored (never a secret: only 已设置 / 未设置), and a save that validates with the
channel's own input model, writes through its store and is audited with the change.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from bot.console.templates import FormState
from channels.accounts import AccountInputError, AccountSpec, AccountStore, FormField
from channels.registry import account_specs

__all__ = [
    "account_sections",
    "action_labels",
    "parse_account",
    "refusal",
    "save_account",
    "spec_for",
]


def action_labels() -> dict[str, str]:
    """The audit log's Chinese name of each account change."""
    return {f"settings.{name}": spec.audit_label for name, spec in account_specs()}


def spec_for(name: str) -> AccountSpec | None:
    return dict(account_specs()).get(name)


async def account_sections(
    stores: dict[str, AccountStore], org_id: int, forms: dict[str, FormState] | None = None
) -> list[dict[str, Any]]:
    """What the page shows for each account channel, with a form typed again on error."""
    sections = []
    for name, spec in account_specs():
        stored = await stores[name].read(org_id)
        shown = stored.model_dump() if stored is not None else {}
        sections.append(
            {
                "name": name,
                "spec": spec,
                "configured": stored is not None,
                "secrets_set": {f: bool(shown.get(f"{f}_set")) for f in spec.secret_fields},
                "form": (forms or {}).get(name) or FormState(values=_values(spec, shown)),
            }
        )
    return sections


def _values(spec: AccountSpec, shown: dict[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for f in spec.fields:
        if f.kind == "checkbox":
            values[f.name] = "1" if shown.get(f.name, True) else ""
        elif f.kind != "secret":
            value = shown.get(f.name)
            values[f.name] = "" if value is None else str(value)
    return values


def parse_account(spec: AccountSpec, raw: FormData) -> tuple[FormState, BaseModel | None]:
    """The posted form as the channel's input model; errors in Chinese beside each field."""
    data: dict[str, Any] = {}
    shown: dict[str, str] = {}
    for f in spec.fields:
        text = str(raw.get(f.name) or "").strip()
        if f.kind == "checkbox":
            data[f.name] = text == "1"
            shown[f.name] = "1" if text == "1" else ""
        elif f.kind == "secret":
            if text:
                data[f.name] = text
        else:
            data[f.name] = text
            shown[f.name] = text
    form = FormState(values=shown)
    try:
        return form, spec.input_model.model_validate(data)
    except ValidationError as exc:
        labels = {f.name: f for f in spec.fields}
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else spec.fields[0].name
            form.errors.setdefault(name, _message(labels.get(name), error))
        return form, None


def _message(f: FormField | None, error: Any) -> str:
    label = f.label if f is not None else "此项"
    limit = (error.get("ctx") or {}).get("max_length")
    if error["type"] == "string_too_long" and limit is not None:
        return f"{label}最多 {limit} 个字"
    if error["type"] in ("missing", "string_too_short"):
        return f"请填写{label}"
    if error["type"] == "string_pattern_mismatch":
        return f"{label}格式不对，请按说明填写"
    return f"{label}填写有误"


def refusal(spec: AccountSpec, error: AccountInputError, form: FormState) -> None:
    """Put the store's refusal (a key missing the first time) beside its field."""
    label = next((f.label for f in spec.fields if f.name == error.field), error.field)
    form.errors[error.field] = f"首次设置时须填写{label}"


async def save_account(
    store: AccountStore, spec: AccountSpec, org_id: int, data: BaseModel
) -> dict[str, Any]:
    """Store the account (AccountInputError if the store refuses); the audit detail, with
    the field labels and no secret."""
    saved = await store.write(org_id, data)
    labels = {f.name: f.label.split("（")[0] for f in spec.fields}
    detail = {labels.get(k, k): v for k, v in saved.model_dump().items() if k in labels}
    changed = [labels[f] for f in spec.secret_fields if getattr(data, f, None)]
    detail["更换的密钥"] = "、".join(changed) or "无"
    return detail
