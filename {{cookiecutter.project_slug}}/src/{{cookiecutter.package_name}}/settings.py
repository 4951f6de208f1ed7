"""Typed settings from the environment (and `.env`); defaults are the answers given at generation."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from .tuning import BudgetError, Plan, detect_cpu_cores, plan_for


class SettingsError(ValueError):
    """A setting from the environment is invalid; the message names it and the rule."""


PRIVATE_NETWORKS = ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
"""Loopback and private (RFC 1918, RFC 4193) networks: where a Prometheus of one's own scrapes from."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    app_env: Literal["development", "production"] = "development"
    bind: str = "127.0.0.1:8000"
    database_url: str = "{{ cookiecutter.__database_url }}"

    cpu_cores: int | Literal["auto"] = {{ '"auto"' if cookiecutter.cpu_cores == "auto" else cookiecutter.cpu_cores | int }}
    web_concurrency: PositiveInt | None = None
    instances: PositiveInt = {{ cookiecutter.instances | int }}
    db_max_connections: int = Field({{ cookiecutter.db_max_connections | int }}, ge=10)
    db_pool_size: PositiveInt | None = None
    db_max_overflow: int | None = Field(None, ge=0)
    db_pool_timeout: PositiveFloat = 10.0
    db_echo: bool = False
    slow_query_ms: float = Field(100, ge=0)
{%- if cookiecutter.database == "postgresql" %}
    db_pgbouncer: bool = False
    """DATABASE_URL points at PgBouncer in transaction pooling mode (db_postgresql.py)."""
{%- endif %}

    cache_ttl_seconds: int = Field(60, ge=0)

    # Abuse limits (see graphql/limits.py and guard.py)
    request_timeout_seconds: PositiveFloat = 10.0
    max_body_bytes: int = Field(1_048_576, ge=1024)
    graphql_max_depth: int = Field(10, ge=2)
    graphql_max_aliases: int = Field(30, ge=0)
    graphql_max_cost: int = Field(100_000, ge=100)
    max_batch_size: int = Field(10, ge=0)
    """Operations in one batched POST (a JSON array); 0 refuses batches."""
    max_header_bytes: int = Field(32_768, ge=1024)
    """Bytes of one request head (request line and headers); a larger one is refused with 431."""
    client_timeout_seconds: PositiveFloat = 10.0
    """How long a request head may take to arrive, and how long a body may pause (protocol.py)."""
    metrics_allow: str | None = None
    """Networks that may read /metrics, comma-separated (`10.0.0.0/8,127.0.0.1`); unset: any
    client in development, loopback and private networks in production (metrics_networks)."""

    # Diagnostics (see PERFORMANCE.md, "Common performance issues")
    server_timing: bool | None = None
    """The Server-Timing header; unset: on in development, off in production."""
    profile: bool = False
    """`?profile=html|text` answers a pyinstrument report of the request (profiling.py); development only."""

    memory_warn_mb: int = Field({{ cookiecutter.memory_warn_mb | int }}, ge=64)
    memory_check_seconds: PositiveFloat = 30.0
    tracemalloc: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
{%- if cookiecutter.cache_backend == "redis" %}
    redis_url: str = "redis://127.0.0.1:6379/0"
    cache_key_prefix: str = "{{ cookiecutter.project_slug }}:"
{%- endif %}

    _plan: Plan = PrivateAttr()
    _cores: int = PrivateAttr()

    @field_validator("cpu_cores", mode="before")
    @classmethod
    def _parse_cores(cls, value: object) -> int | str:
        if value == "auto":
            return value
        try:
            cores = int(str(value))
        except ValueError:
            cores = 0
        if not 1 <= cores <= 256:
            raise ValueError("use a whole number from 1 to 256, or 'auto'")
        return cores

    @field_validator("bind")
    @classmethod
    def _parse_bind(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("use HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:8000")
        return value

    @field_validator("metrics_allow")
    @classmethod
    def _parse_networks(cls, value: str | None) -> str | None:
        if value is not None:
            for network in value.split(","):
                try:
                    ip_network(network.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"{network.strip()!r} is not a network: use addresses or CIDRs separated by commas, "
                        "e.g. 10.0.0.0/8,127.0.0.1 (0.0.0.0/0,::/0 opens /metrics to every client)"
                    ) from None
        return value

    @model_validator(mode="after")
    def _resolve_plan(self) -> Settings:
        cores = self._cores = detect_cpu_cores() if self.cpu_cores == "auto" else self.cpu_cores
        try:
            self._plan = plan_for(
                cores,
                self.db_max_connections,
                self.instances,
                workers=self.web_concurrency,
                pool_size=self.db_pool_size,
                max_overflow=self.db_max_overflow,
            )
        except BudgetError as exc:
            raise ValueError(
                f"{exc}: lower WEB_CONCURRENCY, DB_POOL_SIZE or DB_MAX_OVERFLOW, or raise DB_MAX_CONNECTIONS"
            ) from None
        return self

    @model_validator(mode="after")
    def _profile_in_development(self) -> Settings:
        if self.profile and self.production:
            raise ValueError(
                "PROFILE is on while APP_ENV=production: any client could profile requests at the workers' "
                "expense; unset PROFILE, and profile a development instance or with `make profile`"
            )
        return self

    @property
    def plan(self) -> Plan:
        """Workers and per-worker pool; WEB_CONCURRENCY, DB_POOL_SIZE and DB_MAX_OVERFLOW win."""
        return self._plan

    def describe_plan(self) -> str:
        """The plan in one line, and where its core count came from: for the start-up log."""
        plan, cores = self._plan, f"{self._cores} core(s)"
        source = f"{cores} detected (CPU_CORES=auto)" if self.cpu_cores == "auto" else f"{cores} (CPU_CORES)"
        return (
            f"{source} -> {plan.workers} worker(s), each with pool_size {plan.pool.pool_size} + max_overflow "
            f"{plan.pool.max_overflow}: at most {plan.total_connections} connections across {plan.instances} "
            f"instance(s) of DB_MAX_CONNECTIONS={plan.db_max_connections}"
        )

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def metrics_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """Who may read /metrics: METRICS_ALLOW, else everyone in development, and in
        production the networks a scraper on the host or in the cluster comes from."""
        if self.metrics_allow is not None:
            return tuple(ip_network(network.strip(), strict=False) for network in self.metrics_allow.split(","))
        if not self.production:
            return (ip_network("0.0.0.0/0"), ip_network("::/0"))
        return tuple(ip_network(network) for network in PRIVATE_NETWORKS)

    @property
    def timing_header(self) -> bool:
        """Whether answers carry Server-Timing: SERVER_TIMING if set, else development only."""
        return not self.production if self.server_timing is None else self.server_timing

    @property
    def host(self) -> str:
        return self.bind.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.bind.rpartition(":")[2])


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, or a SettingsError with one line per bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError("\n".join(_describe(error) for error in exc.errors())) from None


def _describe(error: ErrorDetails) -> str:
    reason = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:
        return f"Invalid settings: {reason}"
    name = str(error["loc"][0]).upper()
    return f"{name}={error['input']!r} is not valid: {reason}"
