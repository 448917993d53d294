"""Gateway configuration: one YAML file plus environment overrides.

Precedence (highest first): environment (``FRONTDESK_`` prefix, ``__`` for
nesting, e.g. ``FRONTDESK_CACHE__REDIS_URL``), the YAML file, defaults.
Secrets never live in the YAML: it names the environment variable or file
that holds each one, and a secret that can't be read fails the start.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from .billing_config import BillingConfig

__all__ = [
    "ApiClientConfig",
    "AuthConfig",
    "CacheConfig",
    "ConfigError",
    "ConsoleConfig",
    "ConsoleUserConfig",
    "EncryptionKeyConfig",
    "IdentityConfig",
    "PayerConfig",
    "SecretRef",
    "Settings",
    "SourceConfig",
    "TenantConfig",
    "load_settings",
]

_YAML_PATH: ContextVar[Path | None] = ContextVar("frontdesk_yaml_path", default=None)
_ID = r"[a-z0-9][a-z0-9_-]{0,62}"
Scope = Literal[
    "patients:read",
    # Register patients, correct their records and insurance.
    "patients:write",
    "slots:read",
    "appointments:read",
    "appointments:write",
    "coverage:check",
    # Operators: /readyz with each tenant's and source's state.
    "operations:read",
    # Book over the patient's other appointment (with a reason), overbook a busy slot.
    "appointments:override",
    "appointments:overbook",
    # Supervisors: say two records are the same person (the person index links them).
    "patients:link",
    # The waitlist: read it and its offers; put patients on it and take them off.
    "waitlist:read",
    "waitlist:write",
    # The event stream (offers, check-ins, conflicts found).
    "events:read",
    # Money at the desk: estimates, balances, good-faith estimates (read; open, issue,
    # record a bill).
    "billing:read",
    "billing:write",
]
ALL_SCOPES: tuple[Scope, ...] = (
    "patients:read",
    "patients:write",
    "slots:read",
    "appointments:read",
    "appointments:write",
    "coverage:check",
    "operations:read",
    "appointments:override",
    "appointments:overbook",
    "patients:link",
    "waitlist:read",
    "waitlist:write",
    "events:read",
    "billing:read",
    "billing:write",
)


class ConfigError(ValueError):
    """Configuration that can't be used; the message names the field."""


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
Slug = Annotated[str, Field(pattern=f"^{_ID}$")]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Config):
    """Where a secret lives: an environment variable or a file (never the YAML itself)."""

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="after")
    def _one_place(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def read(self) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError(f"environment variable {self.env} is not set")
            return value
        if self.file is None:  # excluded by _one_place; says so to the type checker
            raise ConfigError("a secret needs env or file")
        try:
            return self.file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"secret file {self.file} can't be read") from exc


class AuthConfig(_Config):
    kind: Literal["none", "bearer", "smart-backend", "client-secret"] = "none"
    token: SecretRef | None = None
    client_id: str | None = None
    client_secret: SecretRef | None = None
    private_key: SecretRef | None = None
    key_id: str | None = None
    algorithm: Literal["RS384", "ES384"] = "RS384"
    token_url: HttpUrl | None = None
    scope: str = "system/*.read system/Appointment.write"

    @model_validator(mode="after")
    def _complete(self) -> AuthConfig:
        if self.kind == "bearer" and self.token is None:
            raise ValueError("bearer auth needs token")
        if self.kind == "smart-backend" and not (
            self.client_id and self.private_key and self.key_id
        ):
            raise ValueError("smart-backend auth needs client_id, private_key and key_id")
        if self.kind == "client-secret" and not (self.client_id and self.client_secret):
            raise ValueError("client-secret auth needs client_id and client_secret")
        return self


class SourceConfig(_Config):
    """One EHR FHIR R4 endpoint."""

    id: Slug
    base_url: HttpUrl
    vendor: Literal["generic", "hapi", "epic", "oracle-health"] = "generic"
    time_zone: TimeZoneName = "UTC"
    auth: AuthConfig = AuthConfig()
    timeout_seconds: float = Field(default=8.0, gt=0, le=60)
    max_concurrency: int = Field(default=16, ge=1, le=256)
    # How the gateway sees changes made in the EHR itself (its own desk, a portal):
    # auto (the vendor profile's way: rest-hook Subscription where the server runs them,
    # else a poll), subscription, poll (Slot and Appointment by _lastUpdated), or off
    # (the slot cache's time to live is all there is).
    watch: Literal["auto", "subscription", "poll", "off"] = "auto"
    watch_interval_seconds: float = Field(default=30.0, ge=0.2, le=3600)
    # The identifier system of this EHR's medical record numbers: lets the desk console
    # find a patient by MRN and register one with the MRN the EHR gave.
    mrn_system: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s|]+$")] | None = (
        None
    )


class PayerConfig(_Config):
    """A payer and how to ask it about eligibility in real time."""

    id: Slug
    name: str
    # Payer ids as EHR Coverage resources carry them (payor identifier values).
    payer_ids: list[str] = Field(min_length=1)
    transport: Literal["x12", "fhir", "none"] = "none"
    endpoint: HttpUrl | None = None
    auth: AuthConfig = AuthConfig()
    # ISA15: T (test) unless this deployment really queries the payer in production.
    x12_usage: Literal["T", "P"] = "T"
    x12_envelope: Literal["plain", "core"] = "plain"
    # Checks in flight to this payer at once, per process.
    max_concurrency: int = Field(default=20, ge=1, le=256)
    # The pace the payer's agreement allows from us, all gateway replicas and batch workers
    # together (``gateway.pacing``), e.g. "20/second" or "600/minute"; None: unpaced.
    rate_limit: str | None = None
    # The share of that pace batch verification may use; the rest waits for real-time checks.
    batch_share: float = Field(default=0.8, gt=0, le=1)

    @model_validator(mode="after")
    def _endpoint(self) -> PayerConfig:
        if self.transport != "none" and self.endpoint is None:
            raise ValueError(f"transport {self.transport} needs endpoint")
        if self.rate_limit is not None:
            from limits import parse

            try:
                parse(self.rate_limit)
            except ValueError:
                raise ValueError("rate_limit must read like 20/second or 600/minute") from None
        return self


class TenantConfig(_Config):
    """A hospital: its EHRs and its payers."""

    id: Slug
    name: str
    time_zone: TimeZoneName = "UTC"
    provider_npi: Annotated[str, Field(pattern=r"^\d{10}$")] | None = None
    provider_name: str | None = None
    sources: list[SourceConfig] = Field(min_length=1)
    payers: list[PayerConfig] = Field(default_factory=list)
    # Minutes around a booking that the patient's other appointments must keep clear of
    # (e.g. travel time between the hospital's clinics); 0: only a real overlap.
    conflict_buffer_minutes: int = Field(default=0, ge=0, le=240)
    # Extra bookings a slot may take when a desk overbooks on purpose (with the scope).
    overbook_limit: int = Field(default=1, ge=0, le=10)
    # Prices, visit types and good-faith estimates (``billing_config``).
    billing: BillingConfig = BillingConfig()

    @model_validator(mode="after")
    def _unique_sources(self) -> TenantConfig:
        ids = [s.id for s in self.sources]
        if len(ids) != len(set(ids)):
            raise ValueError("source ids must be unique within a tenant")
        self.billing.check_payers({p.id for p in self.payers})
        return self


class ApiClientConfig(_Config):
    """A PSR tool allowed to call the API. Only the SHA-256 of its key is stored."""

    id: Slug
    tenant: Slug
    scopes: list[Scope]
    key_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    # Requests of this client in progress at once in one gateway process (None: the
    # default of Settings.client_max_concurrent_requests).
    max_concurrent_requests: int | None = Field(default=None, ge=1, le=10_000)


ConsoleRole = Literal["desk", "supervisor"]


class ConsoleUserConfig(_Config):
    """A person who signs in to the desk console. Only an Argon2 hash of the password is
    stored (``gateway.console.accounts.hash_password`` makes one)."""

    username: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
    # Shown in the console's header; a staff name, not patient data.
    display_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    password_hash: Annotated[str, Field(pattern=r"^\$argon2(id|i|d)\$", max_length=400)]
    tenant: Slug
    # desk: find, book, check in, register, check coverage; supervisor: also book over a
    # conflict or overbook, see the payer's raw answer and the sources' state.
    role: ConsoleRole = "desk"


class ConsoleConfig(_Config):
    """The desk console: who may sign in, and how long a session lives."""

    users: list[ConsoleUserConfig] = Field(default_factory=list)
    # Desks are shared: a session ends after this long without the person doing anything.
    idle_minutes: int = Field(default=15, ge=1, le=240)
    # And after this long whatever happens (a new sign-in is asked for).
    max_hours: int = Field(default=12, ge=1, le=24)
    # Failed sign-ins per user name (and per client address, four times as many) within
    # lockout_minutes before further attempts are refused until the window ends.
    max_failed_sign_ins: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # The session cookie's Secure flag: keep it on behind TLS; the sandbox on plain
    # http://127.0.0.1 turns it off.
    secure_cookie: bool = True

    @model_validator(mode="after")
    def _unique_users(self) -> ConsoleConfig:
        names = [u.username for u in self.users]
        if len(names) != len(set(names)):
            raise ValueError("console user names must be unique")
        return self


class EncryptionKeyConfig(_Config):
    """One key of the ring that seals cached PHI (eligibility answers) at rest."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
    # Any secret string; a 256-bit AES key is derived from it (HKDF-SHA256).
    secret: SecretRef


class DirectoryTtl(_Config):
    """Seconds each kind of directory answer is cached."""

    practitioners: int = Field(default=3600, ge=0, le=7 * 86_400)
    locations: int = Field(default=86_400, ge=0, le=7 * 86_400)
    visit_types: int = Field(default=3600, ge=0, le=7 * 86_400)
    # The names shown next to slots and appointments.
    names: int = Field(default=86_400, ge=0, le=7 * 86_400)


class CacheConfig(_Config):
    # None: in-memory cache (sandbox, tests); in production one of the forms that
    # ``gateway.redis_conn`` reads: redis://, redis+sentinel://, redis+cluster://.
    redis_url: str | None = None
    slots_ttl_seconds: int = Field(default=30, ge=0, le=3600)
    # Practitioners, locations, visit types and their names change rarely; each kind has
    # its own time to live (0: not cached).
    directory_ttl: DirectoryTtl = DirectoryTtl()
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)
    eligibility_active_ttl_seconds: int = Field(default=12 * 3600, ge=0)
    eligibility_inactive_ttl_seconds: int = Field(default=3600, ge=0)
    eligibility_data_error_ttl_seconds: int = Field(default=600, ge=0)
    # The last good answer, served marked stale while a payer is away.
    eligibility_stale_ttl_seconds: int = Field(default=72 * 3600, ge=0)
    # Keyed hash of identifiers in cache keys; a secret, from the environment or a file.
    hash_key: SecretRef = SecretRef(env="FRONTDESK_HASH_KEY")
    # Keys that seal cached eligibility answers (AES-GCM), the sealing key first; the
    # others still open what they sealed (rotation). Empty: one key derived from hash_key.
    encryption_keys: list[EncryptionKeyConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_key_ids(self) -> CacheConfig:
        ids = [k.id for k in self.encryption_keys]
        if len(ids) != len(set(ids)):
            raise ValueError("encryption key ids must be unique")
        return self

    @field_validator("redis_url")
    @classmethod
    def _redis_form(cls, value: str | None) -> str | None:
        if value is not None:
            from .redis_conn import parse_redis_url

            parse_redis_url(value)  # its ValueError names the form, never the URL
        return value


class WaitlistConfig(_Config):
    # How long a freed slot is held for the waitlisted patient it is offered to.
    offer_seconds: int = Field(default=900, ge=5, le=3600)
    # How often each gateway process looks for offers whose window ended.
    sweep_seconds: float = Field(default=5.0, gt=0, le=300)


class HooksConfig(_Config):
    """Where EHRs send rest-hook notifications (the gateway's address as they reach it)
    and the secret they present; without both, sources are polled instead."""

    public_base_url: HttpUrl | None = None
    secret: SecretRef | None = None


class IdentityConfig(_Config):
    """The person index: one patient across the tenant's EHRs (see gateway/identity)."""

    enabled: bool = True
    # A trained model (Splink's settings.json and policy.json); None: the one shipped.
    model_dir: Path | None = None
    # Records read live per search from the index's candidates (most keys agreeing first).
    max_candidates: int = Field(default=40, ge=1, le=200)
    # When the batch workers build the index (cron, UTC, e.g. "0 2 * * *"); None: only
    # `frontdesk index build` (or its --queue) does.
    build_cron: str | None = None

    @field_validator("build_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from croniter import croniter  # type: ignore[import-untyped]  # saq's cron engine

        if value is not None and not croniter.is_valid(value):
            raise ValueError("build_cron is not a cron expression")
        return value


class JwtConfig(_Config):
    """OAuth2 JWT bearer tokens, validated against a JWKS."""

    jwks_file: Path
    issuer: str
    audience: str
    # A token must say when it was issued, and live at most this long (exp - iat).
    max_lifetime_seconds: int = Field(default=3600, ge=60, le=86_400)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FRONTDESK_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    sandbox: bool = False
    tenants: list[TenantConfig] = Field(min_length=1)
    api_clients: list[ApiClientConfig] = Field(default_factory=list)
    jwt: JwtConfig | None = None
    console: ConsoleConfig = ConsoleConfig()
    cache: CacheConfig = CacheConfig()
    identity: IdentityConfig = IdentityConfig()
    waitlist: WaitlistConfig = WaitlistConfig()
    hooks: HooksConfig = HooksConfig()
    # Audit events go to their own JSON-lines stream, never the application log.
    audit_path: Path = Path("audit.jsonl")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_date_range_days: int = Field(default=31, ge=1, le=366)
    source_deadline_seconds: float = Field(default=10.0, gt=0, le=120)
    coverage_budget_seconds: float = Field(default=20.0, gt=0, le=120)
    # Batch verification (a saq queue in Redis): workers inside this API process (0: the
    # work is done by `frontdesk worker` processes), items each worker checks at once, tries
    # per item before it lands in the batch's failed list, and the heartbeat after which a
    # silent worker is presumed dead and its item handed to another.
    coverage_batch_workers: int = Field(default=0, ge=0, le=16)
    coverage_batch_concurrency: int = Field(default=8, ge=1, le=256)
    coverage_batch_tries: int = Field(default=3, ge=1, le=10)
    # A worker beats twice per period; a busy host's event loop can lag by a second, so a
    # short period hands live workers' items to others (and spends their tries).
    coverage_batch_heartbeat_seconds: int = Field(default=10, ge=1, le=60)
    # Fairness: one client's burst must not starve the others. Past this many requests in
    # progress, a client's next request waits at most client_queue_seconds (shorter than
    # any request's own deadline), then is refused with 429 and Retry-After.
    client_max_concurrent_requests: int = Field(default=32, ge=1, le=10_000)
    client_queue_seconds: float = Field(default=2.0, gt=0, le=30)

    @model_validator(mode="after")
    def _clients_know_their_tenant(self) -> Settings:
        tenants = {t.id for t in self.tenants}
        if len(tenants) != len(self.tenants):
            raise ValueError("tenant ids must be unique")
        # A gateway id names its source, not its tenant: two tenants' sources with one id
        # would give two different people the same gateway id.
        owner: dict[str, str] = {}
        for tenant in self.tenants:
            for source in tenant.sources:
                if owner.setdefault(source.id, tenant.id) != tenant.id:
                    raise ValueError(
                        f"source id {source.id!r} is used by tenants {owner[source.id]!r} and "
                        f"{tenant.id!r}: source ids must be unique across tenants"
                    )
        for i, client in enumerate(self.api_clients):
            if client.tenant not in tenants:
                raise ValueError(f"api_clients.{i}.tenant: unknown tenant {client.tenant!r}")
        for i, user in enumerate(self.console.users):
            if user.tenant not in tenants:
                raise ValueError(f"console.users.{i}.tenant: unknown tenant {user.tenant!r}")
        return self

    def tenant(self, tenant_id: str) -> TenantConfig:
        for tenant in self.tenants:
            if tenant.id == tenant_id:
                return tenant
        raise KeyError(tenant_id)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = _YAML_PATH.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from a YAML file (if given) and the environment; ConfigError names the field."""
    from pydantic import ValidationError

    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path} not found")
    token = _YAML_PATH.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_field_path(err['loc'])}: {_one_line(err['msg'])}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
    finally:
        _YAML_PATH.reset(token)
