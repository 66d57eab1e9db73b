"""Configuration classes, read from the environment when instantiated.

Nothing here reads the environment at import time: `load_config()` builds the class
named by `APP_ENV` from a mapping (normally `os.environ`), so tests pass their own, and
checks it with `validate()`. Settings are read, and checked, one concern at a time, in the
groups and order of `.env.example`, which documents every variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from email.utils import parseaddr
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

# Development defaults: production refuses to start while any of these is in use.
DEV_SECRET_KEY = "change-me-to-a-long-random-string"  # the placeholder in .env.example
EMBEDDED_REDIS_PORT = 6380
DEV_REDIS_URL = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
SIMULATOR_PORT = 8100
DEV_UPSTREAM_URL = f"http://127.0.0.1:{SIMULATOR_PORT}"
DEV_UPSTREAM_API_KEY = "gh_s_k-simulator-development-key"
MIN_SECRET_KEY_LENGTH = 32


LIMITER_STORAGE_SCHEME_PREFIX = "proxyapp+"


def redis_client_options(socket_timeout: float) -> dict:
    """Options for request-path Redis clients: no call may outlast the socket timeout."""
    return {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout,
        # One immediate retry for a refused or dropped connection (a pooled connection may
        # predate a Redis restart); none for timeouts, which would multiply the wait. No
        # health-check PING before use: that is a round trip on the request path.
        "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    }


_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


def contact_link(contact: str) -> str | None:
    """The href for OPERATOR_CONTACT (`mailto:` for an address, the URL itself), or None if it is neither."""
    if _EMAIL.match(contact):
        return f"mailto:{contact}"
    parts = urlsplit(contact)
    if parts.scheme in ("http", "https") and parts.hostname and not any(c.isspace() for c in contact):
        return contact
    return None


class ConfigError(Exception):
    """A required setting is missing or unsafe; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


class Config:
    """Settings shared by every environment; subclasses change only defaults.

    Each `_read_*` method reads one group of `.env.example` (its docstring is that group's
    heading there); later groups derive defaults from earlier ones, so the order matters.
    """

    ENV_NAME = "base"
    DEFAULT_REDIS_URL: str | None = DEV_REDIS_URL
    DEFAULT_UPSTREAM_URL: str | None = DEV_UPSTREAM_URL
    DEFAULT_FORCE_HTTPS = False
    DEFAULT_WEBHOOK_ALLOW_PRIVATE = True
    DEFAULT_REQUIRE_ADMIN_2FA = False

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.APP_ENV = self.ENV_NAME
        self._read_secrets(env)
        self._read_http(env)
        self._read_queue(env)
        self._read_jobs(env)
        self._read_database(env)
        self._read_upstream(env)
        self._read_predictions(env)
        self._read_waiting(env)
        self._read_rate_limits(env)
        self._read_sessions(env)
        self._read_keys(env)
        self._read_mail(env)
        self._read_webhooks(env)
        self._read_retention(env)
        self._read_operator(env)
        self._read_observability(env)

    def _read_secrets(self, env: Mapping[str, str]) -> None:
        """Environment and secrets"""
        self.SECRET_KEY = env.get("SECRET_KEY") or None
        self.DATA_ENCRYPTION_KEY = env.get("DATA_ENCRYPTION_KEY") or None

    def _read_http(self, env: Mapping[str, str]) -> None:
        """HTTP: the public origin, HTTPS, proxies and the web server"""
        self.FORCE_HTTPS = _bool(env, "FORCE_HTTPS", self.DEFAULT_FORCE_HTTPS)
        self.PREFERRED_URL_SCHEME = env.get("PREFERRED_URL_SCHEME") or ("https" if self.FORCE_HTTPS else "http")
        # The origin clients use (scheme://host[:port]): every absolute URL is built from it, never
        # from the request's Host header. In production, requests naming another host are refused.
        self.PUBLIC_URL = (env.get("PUBLIC_URL") or "").rstrip("/") or None
        self.TRUSTED_HOSTS = None
        self.TRUSTED_PROXIES = _int(env, "TRUSTED_PROXIES", 0)
        # Threads of each waitress process (the Procfile passes the same variable to waitress).
        self.WEB_THREADS = _int(env, "WEB_THREADS", 8)
        self.MAX_CONTENT_LENGTH = _int(env, "MAX_CONTENT_LENGTH", 1024 * 1024)

    def _read_queue(self, env: Mapping[str, str]) -> None:
        """Redis and the queue"""
        self.REDIS_URL = env.get("REDIS_URL") or self.DEFAULT_REDIS_URL
        self.REDIS_SOCKET_TIMEOUT = _float(env, "REDIS_SOCKET_TIMEOUT", 2.0)
        self.QUEUE_NAME = env.get("QUEUE_NAME", "predictions")

    def _read_jobs(self, env: Mapping[str, str]) -> None:
        """Jobs and workers"""
        self.JOB_TIMEOUT = _int(env, "JOB_TIMEOUT", 120)
        # Job slots per worker process (threads: jobs wait on the upstream, not the CPU).
        self.WORKER_CONCURRENCY = _int(env, "WORKER_CONCURRENCY", 16)
        # How long an idle slot blocks on the queue per round; bounds how fast a warm shutdown ends it.
        self.WORKER_POLL_SECONDS = _int(env, "WORKER_POLL_SECONDS", 2)
        self.WORKER_MAINTENANCE_INTERVAL = _int(env, "WORKER_MAINTENANCE_INTERVAL", 60)
        self.WORKER_MONITORING_INTERVAL = _int(env, "WORKER_MONITORING_INTERVAL", 10)
        self.RECONCILE_INTERVAL_SECONDS = _float(env, "RECONCILE_INTERVAL_SECONDS", 10.0)
        self.JOB_LEASE_SECONDS = _float(env, "JOB_LEASE_SECONDS", 20.0)
        self.MAX_RUNS = _int(env, "MAX_RUNS", 3)

    def _read_database(self, env: Mapping[str, str]) -> None:
        """Database"""
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL") or None
        self.DATABASE_CONNECT_TIMEOUT = _int(env, "DATABASE_CONNECT_TIMEOUT", 5)
        # hide_parameters: SQL errors must never carry patient data into logs. The pool keeps a
        # connection for every thread that may hold one at once (web threads or job slots, plus
        # the worker's upkeep threads): with fewer, the others opened and closed one per use.
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True,
                                          "pool_size": max(self.WEB_THREADS, self.WORKER_CONCURRENCY) + 4}

    def _read_upstream(self, env: Mapping[str, str]) -> None:
        """Upstream: the inference API, retries and the circuit breaker"""
        self.UPSTREAM_URL = (env.get("UPSTREAM_URL") or self.DEFAULT_UPSTREAM_URL or "").rstrip("/") or None
        self.UPSTREAM_API_KEY = env.get("UPSTREAM_API_KEY") or (
            DEV_UPSTREAM_API_KEY if self.UPSTREAM_URL == DEV_UPSTREAM_URL else None
        )
        self.UPSTREAM_AUTH_SCHEME = env.get("UPSTREAM_AUTH_SCHEME", "Token")
        self.UPSTREAM_TIMEOUT = _float(env, "UPSTREAM_TIMEOUT", 30.0)
        self.UPSTREAM_CONNECT_TIMEOUT = _float(env, "UPSTREAM_CONNECT_TIMEOUT", 3.05)
        self.UPSTREAM_MAX_RESPONSE_BYTES = _int(env, "UPSTREAM_MAX_RESPONSE_BYTES", 4 * 1024 * 1024)
        self.UPSTREAM_MAX_ATTEMPTS = _int(env, "UPSTREAM_MAX_ATTEMPTS", 5)
        self.UPSTREAM_DEADLINE = _float(env, "UPSTREAM_DEADLINE", self.JOB_TIMEOUT * 0.75)
        self.UPSTREAM_BACKOFF_BASE = _float(env, "UPSTREAM_BACKOFF_BASE", 0.5)
        self.UPSTREAM_BACKOFF_MAX = _float(env, "UPSTREAM_BACKOFF_MAX", 10.0)
        self.CIRCUIT_FAILURE_THRESHOLD = _int(env, "CIRCUIT_FAILURE_THRESHOLD", 5)
        self.CIRCUIT_OPEN_SECONDS = _float(env, "CIRCUIT_OPEN_SECONDS", 30.0)
        # The circuit opens only for failures from this many accounts (one account cannot shut out the rest).
        self.CIRCUIT_MIN_ACCOUNTS = _int(env, "CIRCUIT_MIN_ACCOUNTS", 2)
        # How long after submission a prediction may be held back (re-queued later) by an open circuit.
        self.CIRCUIT_HOLD_SECONDS = _float(env, "CIRCUIT_HOLD_SECONDS", 300.0)

    def _read_predictions(self, env: Mapping[str, str]) -> None:
        """Predictions: requests, codes, idempotency and the result cache"""
        self.MAX_PENDING = _int(env, "MAX_PENDING", 50)
        self.MAX_HISTORY = _int(env, "MAX_HISTORY", 512)
        self.STRICT_CODES = _bool(env, "STRICT_CODES", True)
        self.IDEMPOTENCY_TTL_SECONDS = _int(env, "IDEMPOTENCY_TTL_SECONDS", 24 * 3600)
        self.CACHE_TTL = _int(env, "CACHE_TTL", 3600)  # seconds; 0 turns the result cache off

    def _read_waiting(self, env: Mapping[str, str]) -> None:
        """Waiting: `Prefer: wait`"""
        # `Prefer: wait` may hold at most this many of a web process's threads, and at most
        # MAX_WAITING_PER_ACCOUNT for one account; other waits are answered 202 at once.
        self.MAX_WAITING = _int(env, "MAX_WAITING", max(1, self.WEB_THREADS // 2))
        self.MAX_WAITING_PER_ACCOUNT = _int(env, "MAX_WAITING_PER_ACCOUNT", max(1, self.MAX_WAITING // 4))

    def _read_rate_limits(self, env: Mapping[str, str]) -> None:
        """Rate limits"""
        self.RATE_LIMIT = env.get("RATE_LIMIT", "100/minute")
        self.POLL_RATE_LIMIT = env.get("POLL_RATE_LIMIT") or _scaled_limit(self.RATE_LIMIT, 10)
        self.ANONYMOUS_RATE_LIMIT = env.get("ANONYMOUS_RATE_LIMIT") or self.RATE_LIMIT
        self.REGISTER_RATE_LIMIT = env.get("REGISTER_RATE_LIMIT", "10/hour")
        # Failed sign-ins (and password confirmations) per client IP and username, per client IP
        # whatever the username, and per username from anywhere: the last is looser, a backstop
        # against guesses spread over many addresses (see proxyapp/web/throttle.py).
        self.LOGIN_RATE_LIMIT = env.get("LOGIN_RATE_LIMIT", "5/minute")
        self.LOGIN_IP_RATE_LIMIT = env.get("LOGIN_IP_RATE_LIMIT", "10/minute")
        self.LOGIN_USERNAME_RATE_LIMIT = env.get("LOGIN_USERNAME_RATE_LIMIT", "50/hour")
        # Forgot-password requests per client IP and, separately, per username or email asked about.
        self.FORGOT_PASSWORD_RATE_LIMIT = env.get("FORGOT_PASSWORD_RATE_LIMIT", "5/hour")
        self.RATELIMIT_ENABLED = True
        self.RATELIMIT_STRATEGY = "moving-window"
        self.RATELIMIT_KEY_PREFIX = env.get("RATELIMIT_KEY_PREFIX", "proxyapp")
        # proxyapp writes its own headers: the tightest of several limits, plus the IETF fields.
        self.RATELIMIT_HEADERS_ENABLED = False

    def _read_sessions(self, env: Mapping[str, str]) -> None:
        """Sign-in: sessions, two-factor and password hashing"""
        # Administrators must turn on two-factor sign-in (TOTP) before /admin opens (on in production).
        self.REQUIRE_ADMIN_2FA = _bool(env, "REQUIRE_ADMIN_2FA", self.DEFAULT_REQUIRE_ADMIN_2FA)
        self.SESSION_IDLE_MINUTES = _int(env, "SESSION_IDLE_MINUTES", 30)
        self.SESSION_ABSOLUTE_HOURS = _int(env, "SESSION_ABSOLUTE_HOURS", 12)
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.FORCE_HTTPS
        self.REMEMBER_COOKIE_DURATION = 0
        # Idle timeout: sessions are permanent cookies re-signed on every request, so they
        # expire this long after the last one (patient data: sign idle people out).
        self.PERMANENT_SESSION_LIFETIME = timedelta(minutes=self.SESSION_IDLE_MINUTES)
        # Absolute lifetime: a session ends this long after sign-in however active it is, so a
        # stolen cookie cannot be kept alive by using it (checked on the server-side session row).
        self.SESSION_ABSOLUTE_LIFETIME = timedelta(hours=self.SESSION_ABSOLUTE_HOURS)
        self.SESSION_REFRESH_EACH_REQUEST = True
        self.WTF_CSRF_ENABLED = True
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        self.ARGON2_TIME_COST = _int(env, "ARGON2_TIME_COST", 2)
        self.ARGON2_MEMORY_KIB = _int(env, "ARGON2_MEMORY_KIB", 47104)
        self.ARGON2_PARALLELISM = _int(env, "ARGON2_PARALLELISM", 1)

    def _read_keys(self, env: Mapping[str, str]) -> None:
        """API keys"""
        self.KEY_ROTATION_GRACE_SECONDS = _int(env, "KEY_ROTATION_GRACE_SECONDS", 24 * 3600)
        self.MAX_KEYS_PER_ACCOUNT = _int(env, "MAX_KEYS_PER_ACCOUNT", 10)
        # An expiry chosen at key creation may lie at most this many days ahead (none: never expires).
        self.KEY_MAX_LIFETIME_DAYS = _int(env, "KEY_MAX_LIFETIME_DAYS", 365)

    def _read_mail(self, env: Mapping[str, str]) -> None:
        """Account recovery mail"""
        # account recovery: mail through SMTP_URL (smtp://, smtp+starttls://, smtps://; see parse_smtp_url)
        # from MAIL_FROM. Unset: no mail; the forgot-password page points people to the operator.
        self.SMTP_URL = env.get("SMTP_URL") or None
        self.MAIL_FROM = env.get("MAIL_FROM") or None
        self.SMTP_TIMEOUT = _float(env, "SMTP_TIMEOUT", 10.0)
        self.PASSWORD_RESET_MINUTES = _int(env, "PASSWORD_RESET_MINUTES", 30)
        self.EMAIL_VERIFY_HOURS = _int(env, "EMAIL_VERIFY_HOURS", 24)

    def _read_webhooks(self, env: Mapping[str, str]) -> None:
        """Webhooks"""
        # webhooks: private/loopback receivers (and plain http) only outside production by default
        self.WEBHOOK_ALLOW_PRIVATE = _bool(env, "WEBHOOK_ALLOW_PRIVATE", self.DEFAULT_WEBHOOK_ALLOW_PRIVATE)
        self.WEBHOOK_ALLOW_HTTP = self.ENV_NAME != "production"
        # Receivers the operator trusts by name (comma-separated, e.g. a staging hook on the internal
        # network): plain http and any address allowed for exactly these hosts, in every environment.
        self.WEBHOOK_ALLOWED_HOSTS = frozenset(
            host.strip().lower() for host in env.get("WEBHOOK_ALLOWED_HOSTS", "").split(",") if host.strip())
        # A rotated signing secret keeps signing alongside the new one for this long.
        self.WEBHOOK_SECRET_GRACE_SECONDS = _int(env, "WEBHOOK_SECRET_GRACE_SECONDS", 24 * 3600)
        # Retries: BASE, 2×BASE, 4×BASE … capped at MAX, until RETRY_SECONDS after the event.
        self.WEBHOOK_BACKOFF_BASE = _float(env, "WEBHOOK_BACKOFF_BASE", 10.0)
        self.WEBHOOK_BACKOFF_MAX = _float(env, "WEBHOOK_BACKOFF_MAX", 3600.0)
        self.WEBHOOK_RETRY_SECONDS = _float(env, "WEBHOOK_RETRY_SECONDS", 24 * 3600.0)
        self.WEBHOOK_TIMEOUT = _float(env, "WEBHOOK_TIMEOUT", 5.0)

    def _read_retention(self, env: Mapping[str, str]) -> None:
        """Retention"""
        self.RESULT_RETENTION_DAYS = _int(env, "RESULT_RETENTION_DAYS", 30)
        # Seconds RQ keeps a finished prediction job (id and one-word outcome, no patient data) for
        # rq-dashboard's "Finished" figure; 0 deletes it at once.
        self.FINISHED_JOB_TTL = _int(env, "FINISHED_JOB_TTL", 600)

    def _read_operator(self, env: Mapping[str, str]) -> None:
        """Operator: the landing and privacy pages"""
        # Who runs this installation and how to reach them (an email address or an https URL): shown on
        # the landing and privacy pages. Unset, the pages say that no operator is named.
        self.OPERATOR_NAME = (env.get("OPERATOR_NAME") or "").strip() or None
        self.OPERATOR_CONTACT = (env.get("OPERATOR_CONTACT") or "").strip() or None

    def _read_observability(self, env: Mapping[str, str]) -> None:
        """Observability: /metrics"""
        # /metrics: with a token, any client presenting it as a bearer; without one, loopback clients only.
        self.METRICS_TOKEN = env.get("METRICS_TOKEN") or None
        # The source commit of this build, for /metrics' proxyapp_build_info (e.g. set by the image build).
        self.BUILD_COMMIT = env.get("BUILD_COMMIT") or None

    @property
    def RATELIMIT_STORAGE_URI(self) -> str:
        """Flask-Limiter shares the queue's Redis (limits must hold across processes).

        Through proxyapp's storage (proxyapp/services/limits/storage.py), whose hits also report
        the window for the response headers.
        """
        return LIMITER_STORAGE_SCHEME_PREFIX + self.REDIS_URL if self.REDIS_URL else "memory://"

    @property
    def RATELIMIT_STORAGE_OPTIONS(self) -> dict:
        """Bound every limiter round-trip so a dead Redis fails fast (503) instead of hanging."""
        return {**redis_client_options(self.REDIS_SOCKET_TIMEOUT), "wrap_exceptions": True}


class DevelopmentConfig(Config):
    """Embedded Redis, the simulator, a SQLite file and generated secrets."""

    ENV_NAME = "development"


class TestingConfig(Config):
    """Like development; tests point REDIS_URL and DATABASE_URL at their own services."""

    ENV_NAME = "testing"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.TESTING = True


class ProductionConfig(Config):
    """No embedded defaults: every secret and service must be configured explicitly."""

    ENV_NAME = "production"
    DEFAULT_REDIS_URL = None
    DEFAULT_UPSTREAM_URL = None
    DEFAULT_FORCE_HTTPS = True
    DEFAULT_WEBHOOK_ALLOW_PRIVATE = False
    DEFAULT_REQUIRE_ADMIN_2FA = True

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        if self.PUBLIC_URL:
            # Loopback names stay allowed for in-container probes (compose's healthcheck); links
            # never use the Host header, so no other name can reach a response.
            self.TRUSTED_HOSTS = [urlsplit(self.PUBLIC_URL).hostname, "localhost", "127.0.0.1", "::1"]


CONFIGS: dict[str, type[Config]] = {
    cls.ENV_NAME: cls for cls in (DevelopmentConfig, TestingConfig, ProductionConfig)
}


class SmtpSettings(NamedTuple):
    """Where and how mail is sent, parsed from SMTP_URL."""

    host: str
    port: int
    security: str  # "none", "starttls" (upgrade after connecting) or "tls" (implicit TLS)
    username: str | None
    password: str | None


SMTP_SCHEMES = {"smtp": ("none", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}


def parse_smtp_url(url: str) -> SmtpSettings:
    """`smtp[+starttls]|smtps://[user[:password]@]host[:port]` (user and password percent-encoded)."""
    parts = urlsplit(url)
    if parts.scheme not in SMTP_SCHEMES or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ConfigError(f"SMTP_URL must look like smtps://user:password@mail.example.org:465 (schemes: "
                          f"{', '.join(s + '://' for s in SMTP_SCHEMES)}), got a value it cannot use")
    security, default_port = SMTP_SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ConfigError("SMTP_URL has a port that is not a number from 1 to 65535") from None
    return SmtpSettings(parts.hostname, port, security, unquote(parts.username) if parts.username else None,
                        unquote(parts.password) if parts.password else None)


def _scaled_limit(limit: str, factor: int) -> str:
    """Multiply the count of a limit string such as `100/minute` (for polling limits)."""
    # Not at the top: importing proxyapp's modules runs proxyapp/__init__, which imports this one.
    from proxyapp.services.limits.rules import scaled_limit

    return scaled_limit("RATE_LIMIT", limit, factor)


# Validation: every check of the settings, one function per group of Config._read_*, in the same order.

def validate(config: Config) -> None:
    """Raise ConfigError, naming the variable, if the settings cannot run safely in this environment."""
    for check in (_validate_secrets, _validate_http, _validate_queue, _validate_jobs, _validate_database,
                  _validate_upstream, _validate_predictions, _validate_waiting, _validate_rate_limits,
                  _validate_sessions, _validate_keys, _validate_mail, _validate_webhooks, _validate_retention,
                  _validate_operator, _validate_observability):
        check(config)


def _validate_secrets(config: Config) -> None:
    _require_in_production(config, "SECRET_KEY", config.SECRET_KEY, DEV_SECRET_KEY)
    if config.ENV_NAME == "production" and len(config.SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters in production")
    _require_in_production(config, "DATA_ENCRYPTION_KEY", config.DATA_ENCRYPTION_KEY)
    if config.DATA_ENCRYPTION_KEY:
        # Not at the top, as in _scaled_limit: the one reader of the keys lives in proxyapp.
        from proxyapp.crypto import parse_keys

        parse_keys(config.DATA_ENCRYPTION_KEY)


def _validate_http(config: Config) -> None:
    _require_in_production(config, "PUBLIC_URL", config.PUBLIC_URL)
    if config.PUBLIC_URL is not None:
        parts = urlsplit(config.PUBLIC_URL)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
            raise ConfigError(f"PUBLIC_URL must be an origin such as https://proxy.example.org, "
                              f"got {config.PUBLIC_URL!r}")
    _require_at_least(config, {"WEB_THREADS": 1})


def _validate_queue(config: Config) -> None:
    _require_in_production(config, "REDIS_URL", config.REDIS_URL, DEV_REDIS_URL)


def _validate_jobs(config: Config) -> None:
    _require_positive(config, ("MAX_RUNS", "WORKER_MAINTENANCE_INTERVAL", "WORKER_MONITORING_INTERVAL",
                               "WORKER_CONCURRENCY", "WORKER_POLL_SECONDS", "RECONCILE_INTERVAL_SECONDS",
                               "JOB_LEASE_SECONDS"))


def _validate_database(config: Config) -> None:
    _require_in_production(config, "DATABASE_URL", config.SQLALCHEMY_DATABASE_URI)


def _validate_upstream(config: Config) -> None:
    """Retries must end before RQ kills the job, and every count and interval must be positive."""
    _require_in_production(config, "UPSTREAM_URL", config.UPSTREAM_URL, DEV_UPSTREAM_URL)
    _require_in_production(config, "UPSTREAM_API_KEY", config.UPSTREAM_API_KEY, DEV_UPSTREAM_API_KEY)
    if config.UPSTREAM_URL and not config.UPSTREAM_API_KEY:
        raise ConfigError("UPSTREAM_API_KEY is required when UPSTREAM_URL is set")
    if config.UPSTREAM_AUTH_SCHEME not in ("Token", "Bearer"):
        raise ConfigError(f"UPSTREAM_AUTH_SCHEME must be Token or Bearer, got {config.UPSTREAM_AUTH_SCHEME!r}")
    if not 0 < config.UPSTREAM_DEADLINE < config.JOB_TIMEOUT:
        raise ConfigError(
            f"UPSTREAM_DEADLINE must be above 0 and below JOB_TIMEOUT ({config.JOB_TIMEOUT}), "
            f"got {config.UPSTREAM_DEADLINE:g}"
        )
    _require_positive(config, ("UPSTREAM_MAX_ATTEMPTS", "UPSTREAM_BACKOFF_MAX", "CIRCUIT_FAILURE_THRESHOLD",
                               "CIRCUIT_OPEN_SECONDS", "CIRCUIT_MIN_ACCOUNTS", "CIRCUIT_HOLD_SECONDS"))
    if config.UPSTREAM_BACKOFF_BASE < 0:
        raise ConfigError(f"UPSTREAM_BACKOFF_BASE must not be negative, got {config.UPSTREAM_BACKOFF_BASE!r}")


def _validate_predictions(config: Config) -> None:
    _require_positive(config, ("IDEMPOTENCY_TTL_SECONDS",))
    _require_at_least(config, {"CACHE_TTL": 0})


def _validate_waiting(config: Config) -> None:
    _require_at_least(config, {"MAX_WAITING": 0, "MAX_WAITING_PER_ACCOUNT": 0})


def _validate_rate_limits(config: Config) -> None:
    """Fail at start-up, not on a request, if a configured limit string cannot be parsed."""
    # Not at the top, as in _scaled_limit: the one reader of limit strings lives in proxyapp.
    from proxyapp.services.limits.rules import LIMIT_SETTINGS, require_limit

    for name in LIMIT_SETTINGS:
        require_limit(name, getattr(config, name))


def _validate_sessions(config: Config) -> None:
    _require_at_least(config, {"SESSION_IDLE_MINUTES": 1, "SESSION_ABSOLUTE_HOURS": 1})


def _validate_keys(config: Config) -> None:
    _require_at_least(config, {"MAX_KEYS_PER_ACCOUNT": 1, "KEY_MAX_LIFETIME_DAYS": 1, "KEY_ROTATION_GRACE_SECONDS": 0})


def _validate_mail(config: Config) -> None:
    """SMTP_URL must parse (the message never repeats it: it may hold a password); MAIL_FROM goes with it."""
    if config.SMTP_URL is not None:
        smtp = parse_smtp_url(config.SMTP_URL)
        if not config.MAIL_FROM or "@" not in parseaddr(config.MAIL_FROM)[1]:
            raise ConfigError("MAIL_FROM must be an address such as 'Proxy <noreply@example.org>' when SMTP_URL is set")
        if config.ENV_NAME == "production" and smtp.security == "none" and smtp.password \
                and smtp.host not in ("localhost", "127.0.0.1", "::1"):
            raise ConfigError("SMTP_URL sends its password unencrypted to another host: use smtps:// or smtp+starttls://")
        _require_positive(config, ("SMTP_TIMEOUT",))
    _require_at_least(config, {"PASSWORD_RESET_MINUTES": 1, "EMAIL_VERIFY_HOURS": 1})


def _validate_webhooks(config: Config) -> None:
    _require_positive(config, ("WEBHOOK_BACKOFF_BASE", "WEBHOOK_BACKOFF_MAX", "WEBHOOK_RETRY_SECONDS",
                               "WEBHOOK_TIMEOUT"))
    _require_at_least(config, {"WEBHOOK_SECRET_GRACE_SECONDS": 0})


def _validate_retention(config: Config) -> None:
    _require_at_least(config, {"FINISHED_JOB_TTL": 0})


def _validate_operator(config: Config) -> None:
    if config.OPERATOR_CONTACT is not None and contact_link(config.OPERATOR_CONTACT) is None:
        raise ConfigError(f"OPERATOR_CONTACT must be an email address or an http(s) URL, got {config.OPERATOR_CONTACT!r}")


def _validate_observability(config: Config) -> None:
    if config.METRICS_TOKEN is not None and len(config.METRICS_TOKEN) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(f"METRICS_TOKEN must be at least {MIN_SECRET_KEY_LENGTH} characters")


def _require_in_production(config: Config, name: str, value: str | None, dev_default: str | None = None) -> None:
    """In production, refuse a missing value or a development default, naming the variable."""
    if config.ENV_NAME != "production":
        return
    if not value:
        raise ConfigError(f"{name} is required in production")
    if value == dev_default:
        raise ConfigError(f"{name} is still the development default; set a real value in production")


def _require_positive(config: Config, names: Iterable[str]) -> None:
    for name in names:
        if getattr(config, name) <= 0:
            raise ConfigError(f"{name} must be positive, got {getattr(config, name)!r}")


def _require_at_least(config: Config, minimums: Mapping[str, int]) -> None:
    for name, minimum in minimums.items():
        if getattr(config, name) < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {getattr(config, name)}")


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Build and validate the config class named by APP_ENV (default development)."""
    env = os.environ if env is None else env
    name = env.get("APP_ENV", "development")
    if name not in CONFIGS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(CONFIGS)}, got {name!r}")
    config = CONFIGS[name](env)
    validate(config)
    return config
