"""The ``gongkai`` command: set-up, serving, working, queuing and reporting."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

# Each command imports what it uses, so `gongkai --help` and the light commands start
# without the web app, the ORM models, the report builders or the channels.
if TYPE_CHECKING:
    from bot.annual.document import Finding
    from bot.settings import Settings
    from storage.console_models import User
    from storage.models import Organization

app = typer.Typer(
    help="Gongkai 公开: publish government information once, on every channel.",
    no_args_is_help=True,
)
report_app = typer.Typer(help="Annual-report figures.", no_args_is_help=True)
token_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)
org_app = typer.Typer(help="Organizations (发布机构).", no_args_is_help=True)
app.add_typer(report_app, name="report")
app.add_typer(token_app, name="token")
app.add_typer(org_app, name="org")
wechat_app = typer.Typer(help="WeChat official accounts (政务微信).", no_args_is_help=True)
app.add_typer(wechat_app, name="wechat")
user_app = typer.Typer(help="Staff console users (工作台用户).", no_args_is_help=True)
app.add_typer(user_app, name="user")
audit_app = typer.Typer(help="The audit log (审计日志).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
site_app = typer.Typer(help="The built-in static website (网站).", no_args_is_help=True)
app.add_typer(site_app, name="site")

T = TypeVar("T")


def _run(factory: Callable[[Settings], Awaitable[T]]) -> T:
    """Open the database, run one command against it, close it."""
    from bot.settings import load_settings
    from storage.db import close_database, open_database

    settings = load_settings()
    settings.ensure_dirs()

    async def main() -> T:
        await open_database(settings.effective_database_url)
        try:
            return await factory(settings)
        finally:
            await close_database()

    return asyncio.run(main())


def _fail(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


async def _org(code: str) -> Organization:
    from storage.models import Organization

    org = await Organization.get_or_none(code=code)
    if org is None:
        raise _fail(f"--org: unknown organization {code!r} (create it with `gongkai org create`)")
    return org


@app.command()
def init(
    demo: Annotated[bool, typer.Option(help="Also create a demo organization and token.")] = False,
) -> None:
    """Create the data folder and bring the database schema up to date."""

    async def go(settings: Settings) -> None:
        typer.echo(f"database ready: {settings.effective_database_url.split('@')[-1]}")
        if demo:
            await _seed_demo(settings)

    _run(go)


async def _seed_demo(settings: Settings) -> None:
    from bot.demo import seed_demo

    token = await seed_demo(settings)
    token_file = settings.data_dir / "demo-token.txt"
    token_file.write_text(token + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    typer.echo(f"demo organization 'tiande' ready; its API token is in {token_file}")
    from bot.demo import DEMO_PASSWORD, DEMO_USERS

    names = ", ".join(f"{u} ({n})" for u, n, _role in DEMO_USERS)
    typer.echo(f"staff console (/console/): users {names}, password {DEMO_PASSWORD}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Web, worker and scheduler in one process (the embedded default)."""
    import uvicorn

    from bot.settings import load_settings
    from bot.web.app import create_app

    settings = load_settings()
    _configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=30,
        proxy_headers=False,  # X-Forwarded-For: bot.web.edge, from trusted_proxies only
    )


@app.command()
def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """The web app alone, for deployments that run workers separately."""
    import uvicorn

    from bot.settings import load_settings
    from bot.web.app import create_app

    settings = load_settings()
    _configure_logging(settings)
    uvicorn.run(
        create_app(settings, run_worker=False),
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=30,
        proxy_headers=False,  # X-Forwarded-For: bot.web.edge, from trusted_proxies only
    )


@app.command()
def worker() -> None:
    """The dispatcher and scheduler alone, for scale-out; stops cleanly on SIGTERM."""
    from bot.app import open_runtime
    from bot.settings import load_settings

    settings = load_settings()
    _configure_logging(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with open_runtime(settings, run_worker=True):
            await stop.wait()

    asyncio.run(main())


@app.command()
def queue(
    path: Annotated[Path, typer.Argument(help="Markdown file; a leading '# ' line is the title.")],
    org: Annotated[str, typer.Option(help="Organization code.")],
    title: Annotated[str, typer.Option(help="Title (default: the file's first heading).")] = "",
    channels: Annotated[
        str, typer.Option(help="Comma-separated channels; empty: the default ones.")
    ] = "",
    category: Annotated[str, typer.Option(help="主题分类.")] = "",
    doc_number: Annotated[str, typer.Option(help="文号.")] = "",
    normative: Annotated[bool, typer.Option(help="规范性文件.")] = False,
    publish_at: Annotated[str, typer.Option(help="ISO 8601 with a zone; default now.")] = "",
) -> None:
    """Submit an item from a Markdown file; it waits for the 保密审查 like any other."""
    from bot.publishing import InputError, ItemInput

    text = path.read_text(encoding="utf-8")
    heading, body = _split_title(text)
    when = dt.datetime.fromisoformat(publish_at) if publish_at else None

    async def go(settings: Settings) -> int:
        from bot.app import open_channels
        from bot.submission import submit
        from channels.registry import DEFAULT_CHANNELS

        data = ItemInput(
            org=await _org(org),
            title=title or heading,
            body=body,
            category=category,
            doc_number=doc_number,
            normative=normative,
            publish_at=when,
            author="cli",
            channels=[c.strip() for c in channels.split(",") if c.strip()] or DEFAULT_CHANNELS,
        )
        built = open_channels(settings)
        try:
            item = await submit(data, channels=built, max_body_bytes=settings.max_body_bytes)
        except InputError as exc:
            raise _fail(f"{exc.field}: {exc.message}") from exc
        finally:
            for channel in built.values():
                await channel.aclose()
        return item.id

    typer.echo(f"item {_run(go)} submitted; it goes out once a reviewer approves it")


def _split_title(text: str) -> tuple[str, str]:
    lines = text.lstrip().splitlines()
    if lines and lines[0].startswith("# "):
        return lines[0][2:].strip(), "\n".join(lines[1:]).strip()
    return "", text


@app.command()
def status(item_id: int) -> None:
    """Show an item and the state of each of its deliveries, as JSON."""
    from bot.web.views import load_item_out
    from storage.models import Item

    async def go(_settings: Settings) -> str:
        item = await Item.get_or_none(id=item_id).prefetch_related("organization")
        if item is None:
            raise _fail(f"item {item_id} not found")
        return (await load_item_out(item)).model_dump_json(indent=2)

    typer.echo(_run(go))


@report_app.command("channels")
def report_channels(
    org: Annotated[str, typer.Option(help="Organization code.")],
    year: Annotated[int, typer.Option(help="Report year (Asia/Shanghai dates).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Print section 二's two paragraphs (or the figures) for one organization and year."""
    from bot.report import channel_section

    async def go(_settings: Settings) -> str:
        section = await channel_section(await _org(org), year)
        if as_json:
            figures = {**section.tally.as_dict(), "normative_issued": section.normative_issued}
            return json.dumps(figures, ensure_ascii=False)
        return f"{section.active_paragraph}\n\n{section.channel_paragraph}"

    typer.echo(_run(go))


@report_app.command("annual")
def report_annual(
    org: Annotated[str, typer.Option(help="Organization code.")],
    year: Annotated[int, typer.Option(help="Report year.")],
    out: Annotated[Path, typer.Option(help="Output file: .docx, .html, .md or .json.")],
    fmt: Annotated[
        str, typer.Option("--format", help="seed, 2019 or 2021; default: the year's format.")
    ] = "",
    strict: Annotated[
        bool,
        typer.Option(help="Refuse to write the file, and exit 1, when validation finds errors."),
    ] = False,
    include_unsubmitted: Annotated[
        bool,
        typer.Option(
            help="A county's rollup: also sum organizations that have not submitted the "
            "year's data (they are named in the report either way)."
        ),
    ] = False,
) -> None:
    """Generate the annual report (政府信息公开工作年度报告) from data, validated, into a file."""
    from bot.annual.export import build_report, default_format, export, kind_for_path
    from bot.annual.formats import FORMATS
    from bot.annual.source import figures_for_report
    from bot.deadlines import WorkCalendar

    try:
        kind = kind_for_path(out)
    except ValueError as error:
        raise _fail(f"--out: {error}") from error
    chosen = next((f for f in FORMATS if f == fmt), None) if fmt else default_format(year)
    if chosen is None:
        raise _fail(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")

    async def go(settings: Settings) -> list[Finding]:
        calendar = WorkCalendar.from_settings(settings)
        figures, notes = await figures_for_report(
            await _org(org), year, calendar=calendar, include_unsubmitted=include_unsubmitted
        )
        for warning in calendar.warnings:
            typer.secho(f"calendar: {warning}", err=True, fg=typer.colors.YELLOW)
        doc, findings = build_report(figures, chosen)
        findings += notes
        if not (strict and any(f.severity == "error" for f in findings)):
            out.write_bytes(export(kind, doc, figures, findings))
        return findings

    findings = _run(go)
    for finding in findings:
        colour = typer.colors.RED if finding.severity == "error" else typer.colors.YELLOW
        line = f"{finding.severity}: {finding.where}: {finding.message} [{finding.rule}]"
        typer.secho(line, err=True, fg=colour)
    errors = sum(f.severity == "error" for f in findings)
    if strict and errors:
        typer.secho(f"--strict: {errors} errors, {out} not written", err=True, fg="red")
        raise typer.Exit(code=1)
    typer.echo(f"wrote {out} ({chosen} format, {errors} errors, {len(findings) - errors} warnings)")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who or what uses the token.")],
    org: Annotated[str, typer.Option(help="Organization code; omit for an admin token.")] = "",
    role: Annotated[
        str,
        typer.Option(
            help="editor (编辑: queue, edit, registers), reviewer (审核: the 保密审查) or "
            "admin (管理员: settings, 补录 imports, 紧急发布), in the organization and those "
            "under it; a token without --org is a platform administrator's.",
        ),
    ] = "editor",
    review_exempt: Annotated[
        bool,
        typer.Option(
            "--review-exempt",
            help="A trusted system (an OA) that does its own recorded 保密审查: "
            "its items go out without Gongkai's review.",
        ),
    ] = False,
) -> None:
    """Create an API token and print it once. Only here (the platform operator) can a
    token be made review-exempt (免审)."""
    from storage.console_models import ROLES
    from storage.tokens import create_token

    if role not in ROLES:
        raise _fail(f"--role must be one of {', '.join(ROLES)}")

    async def go(_settings: Settings) -> str:
        owner = await _org(org) if org else None
        return await create_token(name, owner, role=role, review_exempt=review_exempt)

    typer.echo(_run(go))


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their values): id, name, organization, role, review-exempt,
    created, revoked."""
    from storage.models import ApiToken

    async def go(_settings: Settings) -> str:
        rows = await ApiToken.all().prefetch_related("organization").order_by("id")
        return (
            "\n".join(
                f"{t.id}\t{t.name}\t{t.organization.code if t.organization else '(admin)'}\t"
                f"{t.role}\t{'review-exempt' if t.review_exempt else 'reviewed'}\t"
                f"{t.created_at:%Y-%m-%d}\t{'revoked' if t.revoked_at else 'active'}"
                for t in rows
            )
            or "no tokens"
        )

    typer.echo(_run(go))


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id (see `gongkai token list`); it stops working at once."""
    from storage.tokens import revoke_token

    async def go(_settings: Settings) -> str:
        if not await revoke_token(token_id):
            raise _fail(f"token {token_id}: no such active token")
        return f"token {token_id} revoked"

    typer.echo(_run(go))


@org_app.command("create")
def org_create(
    code: Annotated[str, typer.Option(help="Short code, e.g. tiande.")],
    name: Annotated[str, typer.Option(help="Full name, e.g. 天德乡人民政府.")],
    parent: Annotated[str, typer.Option(help="Parent organization code.")] = "",
) -> None:
    """Create an organization (发布机构)."""
    from storage.models import Organization

    async def go(_settings: Settings) -> str:
        if await Organization.exists(code=code):
            raise _fail(f"--code: organization {code!r} already exists")
        parent_org = await _org(parent) if parent else None
        await Organization.create(code=code, name=name, parent=parent_org)
        return f"organization {code} created"

    typer.echo(_run(go))


@wechat_app.command("configure")
def wechat_configure(
    org: Annotated[str, typer.Option(help="Organization code.")],
    appid: Annotated[str, typer.Option(help="The account's AppID (wx…).")],
    secret: Annotated[
        str, typer.Option(help="AppSecret; asked for (hidden) when omitted on first set-up.")
    ] = "",
    token: Annotated[str, typer.Option(help="Callback token (服务器配置 Token).")] = "",
    aes_key: Annotated[str, typer.Option(help="EncodingAESKey, 43 characters.")] = "",
    api_base: Annotated[str, typer.Option(help="API address; empty: the server setting.")] = "",
    mode: Annotated[str, typer.Option(help="broadcast (push to followers) or publish.")] = (
        "broadcast"
    ),
    kind: Annotated[str, typer.Option(help="subscription or service account.")] = "subscription",
    broadcast_time: Annotated[str, typer.Option(help="Daily slot, HH:MM Beijing time.")] = "18:00",
    fallback_to_publish: Annotated[
        bool, typer.Option(help="Free-publish when no broadcast is left.")
    ] = False,
    original_id: Annotated[str, typer.Option(help="原始ID (gh_…), for callbacks.")] = "",
) -> None:
    """Set an organization's WeChat account; secrets are stored sealed, never shown."""
    from pydantic import ValidationError

    from bot.app import wechat_stores
    from bot.web.wechat_settings import WechatSettingsIn
    from storage.wechat_models import WechatAccount

    async def go(settings: Settings) -> str:
        organization = await _org(org)
        exists = await WechatAccount.exists(organization_id=organization.id)
        given = secret or ("" if exists else typer.prompt("AppSecret", hide_input=True))
        try:
            data = WechatSettingsIn.model_validate(
                {
                    "appid": appid,
                    "secret": given or None,
                    "token": token or None,
                    "encoding_aes_key": aes_key or None,
                    "api_base": api_base,
                    "mode": mode,
                    "account_kind": kind,
                    "broadcast_time": broadcast_time,
                    "fallback_to_publish": fallback_to_publish,
                    "original_id": original_id,
                }
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise _fail(f"--{first['loc'][0]}: {first['msg']}") from exc
        await wechat_stores(settings).accounts.configure(
            organization,
            app_id=data.appid,
            app_secret=data.secret,
            callback_token=data.token,
            aes_key=data.encoding_aes_key,
            api_base=data.api_base,
            mode=data.mode,
            kind=data.account_kind,
            slot_time=data.broadcast_time,
            allow_publish_fallback=data.fallback_to_publish,
            original_id=data.original_id,
        )
        return f"WeChat account {data.appid} set for {org} (callback: /wechat/callback/{org})"

    typer.echo(_run(go))


@wechat_app.command("test")
def wechat_test(org: Annotated[str, typer.Option(help="Organization code.")]) -> None:
    """Fetch a token and read the quota: the same check as the settings page's button."""

    async def go(settings: Settings) -> str:
        from bot.app import open_channels
        from channels.base import AccountBound, ChannelError

        channels = open_channels(settings)
        wechat = channels["wechat"]
        try:
            if not isinstance(wechat, AccountBound):
                raise _fail("the WeChat channel has no per-organization accounts")
            return await wechat.check_account((await _org(org)).code)
        except ChannelError as error:
            raise _fail(error.message) from error
        finally:
            for channel in channels.values():
                await channel.aclose()

    typer.echo(_run(go))


ROLE_HELP = "editor (编辑), reviewer (审核) or admin (管理员)."


def _read_password(password_file: Path | None) -> str:
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


async def _console_user(username: str) -> User:
    from storage import users
    from storage.console_models import User

    found = await User.get_or_none(username=users.normalize_username(username))
    if found is None:
        raise _fail(f"--username: no user {username!r}")
    return found


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Option(help="Sign-in name: 3-32 of a-z 0-9 _ . -")],
    name: Annotated[str, typer.Option(help="Display name, e.g. 王芳.")],
    org: Annotated[str, typer.Option(help="Organization code.")] = "",
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "",
    platform_admin: Annotated[
        bool, typer.Option("--platform-admin", help="May manage every organization.")
    ] = False,
    password_file: Annotated[
        Path | None, typer.Option(help="Read the password from this file's first line.")
    ] = None,
) -> None:
    """Create a console user; the password is asked for (hidden) unless --password-file."""
    from storage import audit, users
    from storage.console_models import ROLES

    if not platform_admin and not (org and role):
        raise _fail("--org and --role are required (or --platform-admin)")
    if role and role not in ROLES:
        raise _fail(f"--role: must be one of {', '.join(ROLES)}")
    password = _read_password(password_file)

    async def go(_settings: Settings) -> str:
        organization = await _org(org) if org else None
        try:
            created = await users.create_user(
                username, name, password, is_platform_admin=platform_admin
            )
        except users.UserError as error:
            raise _fail(f"--{error.field.replace('_', '-')}: {error.message}") from error
        if organization is not None and role:
            await users.set_role(created, organization, role)
        await audit.record(
            "user.created",
            username="cli",
            organization_id=organization.id if organization else None,
            target=f"user:{created.id} {created.username}",
            detail={"role": role, "platform_admin": platform_admin, "via": "cli"},
        )
        return f"user {created.username} created; they must change the password at first sign-in"

    typer.echo(_run(go))


@user_app.command("role")
def user_role(
    username: Annotated[str, typer.Option(help="The user's sign-in name.")],
    org: Annotated[str, typer.Option(help="Organization code.")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)],
) -> None:
    """Give a user a role in an organization (replacing the role they had there)."""
    from storage import audit, users
    from storage.console_models import ROLES

    if role not in ROLES:
        raise _fail(f"--role: must be one of {', '.join(ROLES)}")

    async def go(_settings: Settings) -> str:
        target, organization = await _console_user(username), await _org(org)
        await users.set_role(target, organization, role)
        await audit.record(
            "user.role_changed",
            username="cli",
            organization_id=organization.id,
            target=f"user:{target.id} {target.username}",
            detail={"role": role, "via": "cli"},
        )
        return f"{target.username} is now {role} in {org}"

    typer.echo(_run(go))


@user_app.command("disable")
def user_disable(username: Annotated[str, typer.Option(help="The user's sign-in name.")]) -> None:
    """Deactivate a user: they cannot sign in, and their open sessions end now."""
    from storage import audit, console_sessions

    async def go(_settings: Settings) -> str:
        target = await _console_user(username)
        target.is_active = False
        await target.save(update_fields=["is_active"])
        ended = await console_sessions.end_for_user(
            target.id, "deactivated", now=dt.datetime.now(dt.UTC)
        )
        await audit.record(
            "user.deactivated",
            username="cli",
            target=f"user:{target.id} {target.username}",
            detail={"via": "cli", "sessions_ended": ended},
        )
        return f"user {target.username} disabled"

    typer.echo(_run(go))


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit log's hash chain; exit 1 at the first broken link."""
    from storage.audit_chain import verify

    async def go(_settings: Settings) -> str:
        report = await verify()
        if not report.intact:
            raise _broken(
                f"audit chain broken at row {report.broken_id}: {report.problem} "
                f"({report.rows} rows before it are intact)"
            )
        return f"audit chain intact: {report.rows} rows, head {report.head}"

    typer.echo(_run(go))


def _broken(message: str) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code=1)


@site_app.command("rebuild")
def site_rebuild(
    org: Annotated[str, typer.Option(help="Only this organization (default: all).")] = "",
) -> None:
    """Regenerate the static site from what the database says is published (rarely needed:
    after a template change, a lost site folder or a restore)."""
    from bot.site_rebuild import plan_rebuild, static_site
    from storage import audit

    async def go(settings: Settings) -> str:
        if settings.cms_url:
            raise _fail("the website channel publishes to a CMS (cms_url): there is no static site")
        site = static_site(settings)
        plan = await plan_rebuild(settings, org or None)
        for org_code, pubs in plan.items():
            with typer.progressbar(length=len(pubs), label=org_code) as bar:
                await site.rebuild(org_code, pubs, progress=lambda _done: bar.update(1))
        await audit.record(
            "site.rebuilt",
            username="cli",
            target=f"site:{org or '*'}",
            detail={"organizations": len(plan), "items": sum(map(len, plan.values()))},
        )
        return "\n".join(f"{code}: {len(pubs)} items" for code, pubs in plan.items()) or (
            "no site to rebuild"
        )

    typer.echo(_run(go))


def _configure_logging(settings: Settings) -> None:
    from bot.logs import configure

    configure(settings.log_format)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
