"""Signing in and out of the desk console."""

from __future__ import annotations

import json
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ...middleware import note_audit
from ...security import Principal
from ..desk import FormDeskDep, console_of, read_form, security_headers
from ..redirects import local_path
from ..sessions import COOKIE, PRE_COOKIE

router = APIRouter(prefix="/console", include_in_schema=False)
_DRAFT_FIELD = "draft"


async def sign_in_page(
    request: Request,
    *,
    status: int = 200,
    next_path: str = "/console/today",
    draft: dict[str, str] | None = None,
    notice: str | None = None,
    error: str | None = None,
    username: str = "",
) -> Response:
    """The sign-in form, with a fresh pre-session cookie its CSRF token is bound to."""
    runtime, console = console_of(request)
    nonce = secrets.token_urlsafe(24)
    html = console.templates.render(
        "sign_in.html",
        {
            "csrf": console.signer.token_for(nonce, "sign-in"),
            "next_path": local_path(next_path),
            "draft": json.dumps(draft) if draft else "",
            "notice": notice,
            "error": error,
            "username": username,
            "configured": bool(console.accounts),
            "sandbox": runtime.sandbox,
        },
    )
    response = HTMLResponse(html, status_code=status)
    response.set_cookie(
        PRE_COOKIE,
        console.signer.sign(nonce, "pre"),
        httponly=True,
        samesite="strict",
        secure=console.config.secure_cookie,
        path="/console",
        max_age=3600,
    )
    return security_headers(response)


@router.get("")
async def home() -> Response:
    return security_headers(RedirectResponse("/console/today", status_code=303))


@router.get("/sign-in")
async def sign_in_form(request: Request, next: str = "/console/today") -> Response:
    return await sign_in_page(request, next_path=next)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Check the password (rate-limited), start a new session, drop the old one."""
    _, console = console_of(request)
    form = await read_form(request)
    username = form.get("username", "").strip().lower()[:64]
    next_path = local_path(form.get("next"))
    draft = _draft(form.get(_DRAFT_FIELD, ""))
    nonce = console.signer.unsign(request.cookies.get(PRE_COOKIE), "pre")
    state = request.scope.setdefault("state", {})

    async def again(status: int, error: str) -> Response:
        return await sign_in_page(
            request,
            status=status,
            next_path=next_path,
            draft=draft,
            error=error,
            username=username,
        )

    if nonce is None or form.get("csrf") != console.signer.token_for(nonce, "sign-in"):
        state["denied"] = "forbidden: sign-in form without its CSRF token"
        return await again(403, "This sign-in form is out of date: sign in again.")
    address = request.client.host if request.client else "unknown"
    known = console.accounts.user(username)
    # An unknown name is still who tried: the audit line says so (names are staff ids).
    state["principal"] = (
        known.principal
        if known is not None
        else Principal(f"console:{username or '-'}", "unknown", frozenset())
    )
    note_audit(request, "console.sign_in")
    if await console.limiter.locked(username, address):
        state["denied"] = "rate_limited: too many failed sign-ins"
        return await again(
            429,
            "Too many failed sign-ins. Wait "
            f"{console.limiter.window_minutes} minutes, or ask a supervisor.",
        )
    user = await console.accounts.verify(username, form.get("password", ""))
    if user is None:
        await console.limiter.failed(username, address)
        state["denied"] = "unauthorized: wrong user name or password"
        return await again(401, "That user name and password don't match.")
    await console.limiter.succeeded(username)
    # Never reuse the id the browser came with: a planted cookie gains nothing.
    old = console.signer.unsign(request.cookies.get(COOKIE))
    if old is not None:
        await console.sessions.end(old)
    session = await console.sessions.start(user.username, user.tenant)
    if draft:
        session.draft = {"path": next_path, "fields": draft}
        await console.sessions.save(session)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE,
        console.signer.sign(session.id),
        httponly=True,
        samesite="strict",
        secure=console.config.secure_cookie,
        path="/",
    )
    response.delete_cookie(PRE_COOKIE, path="/console")
    return security_headers(response)


@router.post("/sign-out")
async def sign_out(desk: FormDeskDep) -> Response:
    desk.audit("console.sign_out")
    await desk.console.sessions.end(desk.session.id)
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return security_headers(response)


def _draft(raw: str) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {str(k)[:60]: str(v)[:500] for k, v in list(data.items())[:40]}
