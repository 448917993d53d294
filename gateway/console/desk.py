"""Who is at the desk: the session behind each console request, its CSRF check, and the
page it gets back.

``DeskDep`` (pages, fragments) and ``FormDeskDep`` (state-changing POSTs: the form read
and its CSRF token checked) resolve the signed session cookie to a live session and its
console user, and put the user's ``Principal`` where the audit middleware reads the actor,
so every console action lands in the audit stream as ``console:<username>``. No session:
``SignInRequired``, which sends a person to the sign-in page keeping the form they were
sending (``views.sign_in_required``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.requests import ClientDisconnect

from ..events import TenantEvents
from ..middleware import note_audit
from ..problems import ProblemError
from ..runtime import Runtime
from ..security import Principal
from ..sources import TenantSources
from .accounts import ConsoleUser
from .runtime import ConsoleRuntime
from .sessions import COOKIE, ConsoleSession

__all__ = [
    "AUTO_REFRESH_HEADER",
    "CsrfRefused",
    "Desk",
    "DeskDep",
    "FormDeskDep",
    "SignInRequired",
    "WatchDeskDep",
    "console_of",
    "read_form",
    "security_headers",
]

# Sent by the console's own timed refreshes: they don't count as the person being active.
AUTO_REFRESH_HEADER = "x-console-auto"
_MAX_FIELDS = 100

# Console pages hold patient data: never cached, never framed, no scripts but our own.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


_BREAKER_WORDS = {"closed": "up", "half_open": "recovering", "open": "down"}


class SignInRequired(Exception):
    """No live session behind a console request."""

    def __init__(self, form: dict[str, str] | None = None, *, expired: bool = False) -> None:
        super().__init__("sign in")
        self.form = form
        self.expired = expired


class CsrfRefused(Exception):
    """A state-changing console request without its session's CSRF token."""


def console_of(request: Request) -> tuple[Runtime, ConsoleRuntime]:
    runtime: Runtime = request.app.state.runtime
    if runtime.console is None:
        raise ProblemError(404, "not_found", "Not found", "the desk console is not configured")
    return runtime, runtime.console


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the console's only kind of form)."""
    try:
        raw = await request.body()
    except ClientDisconnect:
        raise ProblemError(
            400, "body_incomplete", "Request body incomplete", "the client went away mid-body"
        ) from None
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=_MAX_FIELDS,
            strict_parsing=False,
        )
    except (UnicodeDecodeError, ValueError):
        raise ProblemError(
            422, "validation_error", "The form is not valid", "unreadable form"
        ) from None
    return {k: v.strip() for k, v in pairs}


@dataclass
class Desk:
    request: Request
    runtime: Runtime
    console: ConsoleRuntime
    session: ConsoleSession
    user: ConsoleUser
    form: dict[str, str] = field(default_factory=dict)

    @property
    def principal(self) -> Principal:
        return self.user.principal

    @property
    def sources(self) -> TenantSources:
        return self.runtime.tenants[self.user.tenant]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.sources.tenant.time_zone)

    @property
    def htmx(self) -> bool:
        return "hx-request" in self.request.headers

    @property
    def events(self) -> TenantEvents:
        return TenantEvents(self.runtime.events, self.user.tenant)

    def audit(self, action: str, **kwargs: Any) -> None:
        note_audit(self.request, action, **kwargs)

    def audit_also(self, action: str, *, patient_ids: list[str]) -> None:
        """Add the patients a page shows after an action to that action's audit line (the
        request's one line keeps the action's name)."""
        state = self.request.scope.setdefault("state", {})
        if "audit_action" not in state:
            self.audit(action, patient_ids=patient_ids)
            return
        seen = tuple(state.get("audit_patients", ()))
        state["audit_patients"] = seen + tuple(p for p in patient_ids if p not in seen)

    def require(self, scope: str, words: str) -> None:
        """The API's scope check for a console action: the user's role must grant it."""
        if scope not in self.principal.scopes:
            raise ProblemError(403, "forbidden", "Not allowed", words)

    def status_strip(self) -> list[dict[str, str]]:
        """Each EHR of the tenant as its circuit breaker sees it."""
        out = []
        for handle in self.sources.all():
            state = str(handle.client.health().breaker.state)
            out.append({"id": handle.id, "state": _BREAKER_WORDS.get(state, "unknown")})
        return out

    def payer_strip(self) -> list[dict[str, str]]:
        """Each payer with a real-time eligibility service, as its circuit breaker sees it:
        a desk knows before asking that a payer is not answering."""
        breakers = self.runtime.coverage.payer_breakers.get(self.sources.tenant.id, {})
        return [
            {"id": payer.name, "state": _BREAKER_WORDS.get(str(breaker.state), "unknown")}
            for payer in self.sources.tenant.payers
            if (breaker := breakers.get(payer.id)) is not None
        ]

    def context(self, **extra: Any) -> dict[str, Any]:
        return {
            "user": self.user,
            "csrf": self.session.csrf,
            "tenant": self.sources.tenant,
            "zone": self.sources.tenant.time_zone,
            "strip": self.status_strip(),
            "payer_strip": self.payer_strip(),
            "sandbox": self.runtime.sandbox,
            "flash": None,
            "draft": {},
            "idle_minutes": self.console.config.idle_minutes,
            **extra,
        }

    async def take_flash(self) -> str | None:
        message = self.session.flash
        if message is not None:
            self.session.flash = None
            await self.console.sessions.save(self.session)
        return message

    async def take_draft(self, path: str) -> dict[str, str]:
        """The form saved for ``path`` when the session ended under it (once)."""
        draft = self.session.draft
        if draft is None or draft.get("path") != path:
            return {}
        self.session.draft = None
        await self.console.sessions.save(self.session)
        fields: dict[str, str] = draft.get("fields", {})
        return fields

    def page(self, template: str, *, status_code: int = 200, **extra: Any) -> HTMLResponse:
        html = self.console.templates.render(template, self.context(**extra))
        return security_headers(HTMLResponse(html, status_code=status_code))  # type: ignore[return-value]

    def view(
        self, page: str, fragment: str, *, status_code: int = 200, **extra: Any
    ) -> HTMLResponse:
        """The fragment for an htmx request, the whole page otherwise."""
        return self.page(fragment if self.htmx else page, status_code=status_code, **extra)

    async def redirect(self, path: str, flash: str | None = None) -> Response:
        """Post/redirect/get for a form sent without JavaScript."""
        if flash is not None:
            self.session.flash = flash
            await self.console.sessions.save(self.session)
        return security_headers(RedirectResponse(path, status_code=303))


async def _desk(request: Request, form: dict[str, str] | None, *, watch: bool = False) -> Desk:
    runtime, console = console_of(request)
    raw = request.cookies.get(COOKIE)
    session_id = console.signer.unsign(raw)
    touch = not watch and AUTO_REFRESH_HEADER not in request.headers
    session = await console.sessions.load(session_id, touch=touch) if session_id else None
    user = console.accounts.user(session.username) if session is not None else None
    if session is None or user is None or user.tenant != session.tenant:
        raise SignInRequired(form, expired=raw is not None)
    request.scope.setdefault("state", {})["principal"] = user.principal
    return Desk(request, runtime, console, session, user, form or {})


async def _page_desk(request: Request) -> Desk:
    return await _desk(request, None)


async def _watch_desk(request: Request) -> Desk:
    """A screen listening for updates: not a person working, so the session is not
    renewed."""
    return await _desk(request, None, watch=True)


async def _form_desk(request: Request) -> Desk:
    form = await read_form(request)
    desk = await _desk(request, form)
    token = form.get("csrf") or request.headers.get("x-csrf-token")
    if not desk.console.sessions.csrf_ok(desk.session, token):
        state = request.scope.setdefault("state", {})
        state["denied"] = "forbidden: CSRF token missing or wrong"
        note_audit(request, "console.csrf_refused")
        raise CsrfRefused()
    return desk


DeskDep = Annotated[Desk, Depends(_page_desk)]
FormDeskDep = Annotated[Desk, Depends(_form_desk)]
WatchDeskDep = Annotated[Desk, Depends(_watch_desk)]
