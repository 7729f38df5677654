"""Typed settings, read once from the environment and validated at start.

Every setting has one name in the environment (``REFERRALS_…`` or a name that
operators already know, such as ``DATABASE_URL``). Production refuses to start
with insecure defaults; development generates its secrets once and keeps them in
``instance/dev-secrets.json`` so that a restart does not sign everyone out or
make stored TOTP secrets unreadable.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
ENVIRONMENTS = ("development", "test", "production")
NCMEC_TEST_URL = "https://exttest.cybertip.org/ispws"
NCMEC_PRODUCTION_URL = "https://report.cybertip.org/ispws"
DEFAULT_SECRET_KEY = "change-me"


class ConfigError(RuntimeError):
    """The settings cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    environment: str
    secret_key: str
    database_url: str
    instance_path: Path
    password_salt: str
    totp_secrets: dict[int, str]
    storage_keys: dict[int, bytes] = field(default_factory=dict)
    redis_url: str | None = None
    evidence_max_bytes: int = 2 * 1024**3
    phone_region: str = "US"
    legal_time_zone: str = "America/Los_Angeles"
    # "module:attribute" of the platform data connector (see referrals/connector).
    connector: str = "referrals.connector.demo:DemoConnector"
    # Closed cases, and the snapshots of ended holds, are purged this many days later.
    retention_days: int = 730
    # Hours the team has to act on a new preservation request (rule preservation_time_to_act).
    preservation_action_hours: int = 24
    # Reminders before a hold expires, in days (each sent once per expiry date).
    hold_reminder_days: tuple[int, ...] = (14, 7)
    # The LER team's shared address for hold reminders (besides the hold's owner).
    team_emails: tuple[str, ...] = ()
    base_url: str = "http://127.0.0.1:5000"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_sender: str = "ler-no-reply@referrals.invalid"
    oncall_emails: tuple[str, ...] = ()
    oncall_webhook_url: str | None = None
    # The platform's emergency telephone line for law enforcement, shown on every portal page
    # (and the sign-in page); empty: none shown.
    emergency_line: str = ""
    # How often the staff home asks for its work again (referrals/dashboard), in seconds.
    dashboard_refresh_seconds: int = 15
    # The share of disclosures drawn for a second review (referrals/disclosures/qa.py), as a
    # decimal fraction written exactly as it is recorded with each draw.
    qa_sample_rate: str = "0.1"
    legal_process_max_bytes: int = 25 * 1024 * 1024
    # A person opening the same evidence item again within this many seconds (a reload) is
    # not a new "viewed" custody event; the view is still audited. 0: every view counts.
    evidence_view_window_seconds: int = 600
    jobs_immediate: bool = False
    # Durable work (referrals/core/outbox.py, referrals/work): a running job that has not
    # shown a sign of life for this long is presumed dead and run again; an entry is tried this
    # many times; outbound HTTP gives up on a connection or an answer after this many seconds
    # and retries a call that surely did not happen this many times.
    outbox_lease_seconds: int = 600
    outbox_max_attempts: int = 6
    http_timeout_seconds: int = 10
    http_retries: int = 3
    session_idle: timedelta = timedelta(minutes=30)
    session_absolute: timedelta = timedelta(hours=12)
    lockout_attempts: int = 5
    lockout_window: timedelta = timedelta(minutes=15)
    sign_in_rate_limit: str = "10 per minute"
    # Failed sign-ins from one client address within lockout_window before that address may
    # not try again until the window has passed: one source cannot lock many accounts.
    sign_in_failures_per_address: int = 10
    # None (the default): a lock lasts until an administrator releases it. CJIS Security
    # Policy 5.9.5 AC-7(b) requires exactly that ("automatically lock the account ... until
    # released by an administrator"); set REFERRALS_LOCKOUT_RELEASE_MINUTES only where no
    # criminal justice information is handled. See README, "Account security".
    lockout_release_after: timedelta | None = None
    # API tokens: lifetime of a new token unless chosen, and the longest that may be chosen.
    api_token_days: int = 90
    api_token_max_days: int = 365
    # Officers confirm their address again this often (and are approved again by staff if
    # their agency's domains changed since); the link is valid, and submissions keep
    # working, for the grace days after it is sent.
    officer_reconfirm_days: int = 365
    officer_reconfirm_grace_days: int = 30
    rate_limit_storage_url: str = "memory://"
    password_length_min: int = 12
    password_length_max: int = 128
    secure_cookies: bool = True
    # The platform's Ed25519 signing key (audit checkpoints; evidence packages), a key file.
    signing_key_path: Path | None = None
    # Make the key at signing_key_path the first time (development and tests only).
    signing_key_generate: bool = False
    # OpenSSH public keys of earlier signing keys: what they signed still verifies.
    signing_retired_keys: tuple[str, ...] = ()
    # Signed audit checkpoints go to this directory and/or are posted to this webhook.
    audit_checkpoint_dir: Path | None = None
    audit_checkpoint_webhook_url: str | None = None
    # Minutes between scheduled checkpoints (a divisor of a day: 60 is on every hour).
    audit_checkpoint_minutes: int = 60
    # How many reverse proxies in front of the app set X-Forwarded-For/-Proto/-Host
    # (0: none, the headers are ignored; believing them without a proxy lets anyone
    # choose the address that audit rows and rate limits see).
    trusted_proxies: int = 0
    # NCMEC CyberTipline (referrals.ncmec): NCMEC's test environment unless told otherwise.
    ncmec_base_url: str = "https://exttest.cybertip.org/ispws"
    ncmec_username: str = ""
    ncmec_password: str = ""
    ncmec_reporter_first_name: str = ""
    ncmec_reporter_last_name: str = ""
    ncmec_reporter_email: str = ""
    ncmec_platform: str = "Platform"
    ncmec_filing_target_hours: int = 24
    ncmec_sandbox: bool = False  # serve the sandbox at /ncmec-sandbox/ispws (never production)
    # Evidence packages (referrals/packages): where built files live, how long a package may
    # be downloaded and how many times (defaults; staff may choose per package up to the
    # maxima in referrals/packages/settings), and an optional escrow recipient of ours.
    package_dir: Path | None = None
    package_expiry_days: int = 14
    package_download_limit: int = 5
    package_escrow_recipient: str | None = None
    # Operations (referrals/operations): the bearer token /metrics answers (off without
    # one), and the log format ("json" or "text").
    metrics_token: str | None = None
    log_format: str = "text"
    # Housekeeping (referrals/operations/housekeeping.py): days the bookkeeping rows are kept.
    outbox_keep_days: int = 30
    progress_keep_days: int = 30
    sign_in_failure_keep_days: int = 365
    # Several machines (README, "Running on several machines"): production then refuses the
    # single-machine defaults. storage_shared: the evidence, package and checkpoint
    # directories are one shared mount that every server sees.
    cluster: bool = False
    storage_shared: bool = False
    # Where evidence blobs and built packages live (referrals/core/objectstore.py): "local"
    # (instance/evidence, package_dir) or "s3" (a bucket on any S3-compatible server; boto3's
    # usual credential chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, a role).
    storage_backend: str = "local"
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_path_style: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def flask_config(self) -> dict:
        """The settings in the names Flask and its extensions read."""
        return {
            "ENV_NAME": self.environment,
            "TESTING": self.environment == "test",
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
            "REFERRALS_SETTINGS": self,
            "REFERRALS_PHONE_REGION": self.phone_region,
            # Sessions: idle expiry is enforced on the server too (core.sessions).
            "PERMANENT_SESSION_LIFETIME": self.session_idle,
            "SESSION_REFRESH_EACH_REQUEST": True,
            "SESSION_COOKIE_NAME": "referrals_session",
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SECURE": self.secure_cookies,
            "SESSION_COOKIE_SAMESITE": "Strict",
            "REMEMBER_COOKIE_DURATION": timedelta(seconds=0),
            "WTF_CSRF_TIME_LIMIT": int(self.session_absolute.total_seconds()),
            "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
            # Flask-Limiter
            "RATELIMIT_STORAGE_URI": self.rate_limit_storage_url,
            "RATELIMIT_HEADERS_ENABLED": True,
            # flask-smorest
            "API_TITLE": "Referrals API",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.0.3",
            "OPENAPI_URL_PREFIX": "/api/v1",
            "OPENAPI_JSON_PATH": "openapi.json",
            "API_SPEC_OPTIONS": {"info": {"description": (
                "Every answer is JSON with a plain message. Text may not contain NUL "
                "characters or unpaired UTF-16 surrogates, JSON may nest at most 64 levels, "
                "and a body may be at most 64 MiB (evidence uploads: the evidence limit); "
                "each is refused with a 400 or 413.")}},
            # Flask-Security-Too
            "SECURITY_PASSWORD_HASH": "argon2",
            # Our own header (core.headers) says no-store on every response; Flask-Security's
            # default wrote the malformed "private=True, no-store=True".
            "SECURITY_CACHE_CONTROL": {},
            # Tests hash thousands of passwords: argon2 still, at its cheapest setting.
            "SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS": (
                {"argon2__time_cost": 1, "argon2__memory_cost": 256, "argon2__parallelism": 1}
                if self.environment == "test" else {}),
            "SECURITY_PASSWORD_SALT": self.password_salt,
            "SECURITY_PASSWORD_LENGTH_MIN": self.password_length_min,
            "SECURITY_PASSWORD_COMPLEXITY_CHECKER": None,
            "SECURITY_PASSWORD_CHECK_BREACHED": False,
            "SECURITY_RETURN_GENERIC_RESPONSES": True,
            "SECURITY_TWO_FACTOR": True,
            "SECURITY_TWO_FACTOR_REQUIRED": True,
            "SECURITY_TWO_FACTOR_ENABLED_METHODS": ["authenticator"],
            "SECURITY_TWO_FACTOR_ALWAYS_VALIDATE": True,
            "SECURITY_TWO_FACTOR_RESCUE_EMAIL": False,
            "SECURITY_TOTP_SECRETS": self.totp_secrets,
            "SECURITY_TOTP_ISSUER": "Referrals",
            "SECURITY_TRACKABLE": True,
            "SECURITY_CHANGEABLE": True,
            "SECURITY_CHANGE_URL": "/account/password",
            "SECURITY_SEND_PASSWORD_CHANGE_EMAIL": False,
            "SECURITY_REGISTERABLE": False,
            "SECURITY_RECOVERABLE": False,
            "SECURITY_CONFIRMABLE": False,
            "SECURITY_DEFAULT_REMEMBER_ME": False,
            "SECURITY_LOGOUT_METHODS": ["POST"],
            "SECURITY_POST_LOGIN_VIEW": "/",
            "SECURITY_POST_LOGOUT_VIEW": "/login",
            "SECURITY_POST_CHANGE_VIEW": "/",
            "SECURITY_FLASH_MESSAGES": True,
            "SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS": False,
            "SECURITY_FRESHNESS": timedelta(minutes=30),
            "SECURITY_FRESHNESS_GRACE_PERIOD": timedelta(minutes=0),
            "SECURITY_EMAIL_SENDER": "ler-no-reply@referrals.invalid",
            # No Flask-Security authentication tokens: a JSON sign-in returns none and the
            # Authentication-Token header authenticates nothing (accounts.sign_in also
            # removes the loader). The API tokens in the token list are the only tokens.
            "SECURITY_API_ENABLED_METHODS": ["session"],
            "SECURITY_BACKWARDS_COMPAT_AUTH_TOKEN": False,
        }


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _dev_secrets(instance_path: Path) -> dict[str, str]:
    """Secrets for development and tests, made once and kept under instance/."""
    path = instance_path / "dev-secrets.json"
    if path.exists():
        kept = json.loads(path.read_text())
        if "storage_key" not in kept:  # made before evidence storage existed
            kept["storage_key"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
            path.write_text(json.dumps(kept, indent=2))
        return kept
    instance_path.mkdir(parents=True, exist_ok=True)
    made = {
        "secret_key": secrets.token_urlsafe(48),
        "password_salt": secrets.token_urlsafe(24),
        "totp_secret": secrets.token_urlsafe(32),
    }
    if "storage_key" not in made:
        made["storage_key"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    path.write_text(json.dumps(made, indent=2))
    path.chmod(0o600)
    return made


def _totp_secrets(raw: str) -> dict[int, str]:
    """``REFERRALS_TOTP_SECRETS`` is ``1:secret,2:newer-secret``; the highest id encrypts."""
    result: dict[int, str] = {}
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        key_id, sep, secret = part.partition(":")
        if not sep or not key_id.isdigit() or len(secret) < 16:
            raise ConfigError(
                "REFERRALS_TOTP_SECRETS must look like '1:<at least 16 characters>,2:…'"
            )
        result[int(key_id)] = secret
    return result


def _storage_keys(raw: str) -> dict[int, bytes]:
    from referrals.core.storage import parse_keys

    try:
        return parse_keys(raw)
    except ValueError as error:
        raise ConfigError(f"REFERRALS_STORAGE_KEYS: {error}") from error


def _emergency_line(value: str) -> str:
    """A telephone number as people dial it: digits, spaces, +, -, parentheses and dots."""
    value = " ".join(value.split())
    if len(value) > 40 or not re.fullmatch(r"[0-9+()\-. ]*", value) or (
            value and sum(c.isdigit() for c in value) < 3):
        raise ConfigError("REFERRALS_EMERGENCY_LINE must be a telephone number (digits, spaces, "
                          "+ - ( ) .), at most 40 characters.")
    return value


def _bounded_int(env, name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _sample_rate(raw: str | None) -> str:
    """REFERRALS_QA_SAMPLE_RATE: a decimal fraction above 0 and at most 1, to 4 places."""
    from decimal import Decimal, InvalidOperation

    text = (raw or "0.1").strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ConfigError(f"REFERRALS_QA_SAMPLE_RATE must be a decimal such as 0.1, not {raw!r}") from None
    if not (value.is_finite() and 0 < value <= 1) or value.as_tuple().exponent < -4:
        raise ConfigError("REFERRALS_QA_SAMPLE_RATE must be above 0 and at most 1, with at most "
                          f"4 decimal places (0.1 draws one in ten), not {raw!r}")
    return str(value)


def _lockout_release(raw: str | None) -> timedelta | None:
    if raw is None or raw.strip() in ("", "0", "off"):
        return None
    try:
        minutes = int(raw)
    except ValueError:
        raise ConfigError("REFERRALS_LOCKOUT_RELEASE_MINUTES must be a whole number of minutes "
                          f"(or off), not {raw!r}") from None
    if minutes < 1:
        raise ConfigError("REFERRALS_LOCKOUT_RELEASE_MINUTES must be at least 1 (or off)")
    return timedelta(minutes=minutes)


def _day_list(raw: str) -> tuple[int, ...]:
    try:
        days = sorted({int(part) for part in raw.split(",") if part.strip()}, reverse=True)
    except ValueError:
        raise ConfigError(
            f"REFERRALS_HOLD_REMINDER_DAYS must be whole numbers separated by commas, not {raw!r}"
        ) from None
    if any(day < 1 for day in days):
        raise ConfigError("REFERRALS_HOLD_REMINDER_DAYS must be at least 1 day each")
    return tuple(days)


def _checkpoint_minutes(raw: str) -> int:
    try:
        minutes = int(raw)
    except ValueError:
        raise ConfigError(
            f"REFERRALS_AUDIT_CHECKPOINT_MINUTES must be a whole number of minutes, not {raw!r}"
        ) from None
    if not 1 <= minutes <= 1440 or 1440 % minutes:
        raise ConfigError("REFERRALS_AUDIT_CHECKPOINT_MINUTES must divide a day evenly "
                          "(1 to 1440: 15, 30, 60, 120, 1440 …), so checkpoints fall at the "
                          "same times every day")
    return minutes


def _webhook_url(name: str, raw: str | None) -> str | None:
    if not raw:
        return None
    if not raw.startswith(("https://", "http://")):
        raise ConfigError(f"{name} must be an http:// or https:// address")
    return raw


def _public_key_lines(raw: str) -> tuple[str, ...]:
    """OpenSSH public keys, one per line or separated by commas (checked at start)."""
    return tuple(line.strip() for line in raw.replace(",", "\n").splitlines() if line.strip())


def _cluster_problems(env: dict[str, str]) -> list[str]:
    """What a production cluster (REFERRALS_CLUSTER=1) cannot run on: each default here
    works on one machine only."""
    problems = []
    if not env.get("REDIS_URL"):
        problems.append("REFERRALS_CLUSTER is on but REDIS_URL is not set: the job queue would "
                        "be a SQLite file on each machine, and jobs queued on one would never "
                        "run on another")
    if env.get("REFERRALS_RATE_LIMIT_STORAGE", "memory://").startswith("memory://"):
        problems.append("REFERRALS_CLUSTER is on but REFERRALS_RATE_LIMIT_STORAGE is memory://: "
                        "each server would count sign-in attempts on its own; use redis://…")
    shared_mount = _bool(env.get("REFERRALS_STORAGE_SHARED"), False)
    on_s3 = env.get("REFERRALS_STORAGE", "local") == "s3"
    if not shared_mount and not on_s3:
        problems.append("REFERRALS_CLUSTER is on but REFERRALS_STORAGE_SHARED is not: evidence "
                        "written on one server would be missing on the others; set "
                        "REFERRALS_STORAGE=s3 (a bucket every server reaches), or mount one "
                        "shared directory as REFERRALS_INSTANCE_PATH's evidence and packages "
                        "on every server and set REFERRALS_STORAGE_SHARED=1")
    if on_s3 and not shared_mount and env.get("REFERRALS_AUDIT_CHECKPOINT_DIR"):
        problems.append("REFERRALS_CLUSTER is on with REFERRALS_AUDIT_CHECKPOINT_DIR but no "
                        "shared mount: each worker would write its checkpoints to its own "
                        "disk; send them to REFERRALS_AUDIT_CHECKPOINT_WEBHOOK_URL, or mount "
                        "the directory on every server and set REFERRALS_STORAGE_SHARED=1")
    return problems


def _storage_backend(env: dict[str, str]) -> dict:
    backend = env.get("REFERRALS_STORAGE", "local")
    if backend not in ("local", "s3"):
        raise ConfigError("REFERRALS_STORAGE must be local or s3")
    bucket = env.get("REFERRALS_S3_BUCKET", "").strip()
    if backend == "s3" and not bucket:
        raise ConfigError("REFERRALS_STORAGE is s3 but REFERRALS_S3_BUCKET (the bucket's name) "
                          "is not set")
    endpoint = (env.get("REFERRALS_S3_ENDPOINT_URL") or "").strip() or None
    if endpoint and not endpoint.startswith(("https://", "http://")):
        raise ConfigError("REFERRALS_S3_ENDPOINT_URL must be an http:// or https:// address "
                          "(e.g. https://minio.internal:9000)")
    return {"storage_backend": backend, "s3_bucket": bucket,
            "s3_prefix": env.get("REFERRALS_S3_PREFIX", "").strip("/"),
            "s3_endpoint_url": endpoint,
            "s3_region": env.get("REFERRALS_S3_REGION") or None,
            "s3_path_style": _bool(env.get("REFERRALS_S3_PATH_STYLE"), False)}


def _log_format(raw: str | None, production: bool) -> str:
    value = (raw or ("json" if production else "text")).lower()
    if value not in ("json", "text"):
        raise ConfigError("REFERRALS_LOG_FORMAT must be json or text")
    return value


def load_settings(environ: dict[str, str] | None = None, **overrides) -> Settings:
    env = dict(os.environ if environ is None else environ)
    environment = env.get("REFERRALS_ENV", "development")
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"REFERRALS_ENV must be one of {', '.join(ENVIRONMENTS)}")
    instance_path = Path(env.get("REFERRALS_INSTANCE_PATH", BASE_DIR / "instance")).resolve()
    production = environment == "production"

    if production:
        dev = {}
    else:
        dev = _dev_secrets(instance_path)

    secret_key = env.get("SECRET_KEY") or dev.get("secret_key", "")
    password_salt = env.get("REFERRALS_PASSWORD_SALT") or dev.get("password_salt", "")
    totp_raw = env.get("REFERRALS_TOTP_SECRETS") or (
        f"1:{dev['totp_secret']}" if "totp_secret" in dev else ""
    )
    storage_raw = env.get("REFERRALS_STORAGE_KEYS") or (
        f"1:{dev['storage_key']}" if "storage_key" in dev else ""
    )
    signing_key_raw = env.get("REFERRALS_SIGNING_KEY_FILE") or ""
    signing_key_path = (Path(signing_key_raw).resolve() if signing_key_raw
                        else None if production else instance_path / "signing-key")
    checkpoint_dir_raw = env.get("REFERRALS_AUDIT_CHECKPOINT_DIR") or ""
    checkpoint_dir = (Path(checkpoint_dir_raw).resolve() if checkpoint_dir_raw
                      else None if production else instance_path / "audit-checkpoints")
    checkpoint_webhook = _webhook_url("REFERRALS_AUDIT_CHECKPOINT_WEBHOOK_URL",
                                      env.get("REFERRALS_AUDIT_CHECKPOINT_WEBHOOK_URL"))
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'referrals.db'}"
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]

    if production:
        problems = []
        if not secret_key or secret_key == DEFAULT_SECRET_KEY or len(secret_key) < 32:
            problems.append("SECRET_KEY is missing, the default, or shorter than 32 characters")
        if not password_salt or len(password_salt) < 16:
            problems.append("REFERRALS_PASSWORD_SALT is missing or shorter than 16 characters")
        if not totp_raw:
            problems.append("REFERRALS_TOTP_SECRETS (the key that encrypts TOTP secrets) is missing")
        if not storage_raw:
            problems.append("REFERRALS_STORAGE_KEYS (the keys that encrypt evidence) is missing")
        if signing_key_path is None:
            problems.append("REFERRALS_SIGNING_KEY_FILE (the platform's Ed25519 signing key, "
                            "e.g. made with ssh-keygen -t ed25519 -N '') is missing")
        if checkpoint_dir is None and checkpoint_webhook is None:
            problems.append("neither REFERRALS_AUDIT_CHECKPOINT_DIR nor "
                            "REFERRALS_AUDIT_CHECKPOINT_WEBHOOK_URL is set: signed audit "
                            "checkpoints would go nowhere")
        if database_url.startswith("sqlite"):
            problems.append("DATABASE_URL must name a PostgreSQL server, not SQLite")
        if not _bool(env.get("REFERRALS_SECURE_COOKIES"), True):
            # Session cookies sent over plain HTTP could be read on the way.
            problems.append("REFERRALS_SECURE_COOKIES cannot be turned off in production")
        ncmec_url = env.get("REFERRALS_NCMEC_BASE_URL", NCMEC_PRODUCTION_URL).rstrip("/")
        if ncmec_url == NCMEC_TEST_URL or "/ncmec-sandbox" in ncmec_url \
                or not ncmec_url.startswith("https://"):
            problems.append(f"REFERRALS_NCMEC_BASE_URL must be NCMEC's production endpoint "
                            f"({NCMEC_PRODUCTION_URL}), not the test environment or a sandbox")
        if _bool(env.get("REFERRALS_NCMEC_SANDBOX"), False):
            problems.append("REFERRALS_NCMEC_SANDBOX (the made-up CyberTipline for demos and "
                            "tests) cannot be on in production")
        if _bool(env.get("REFERRALS_CLUSTER"), False):
            problems.extend(_cluster_problems(env))
        if problems:
            raise ConfigError("Production refuses to start: " + "; ".join(problems) + ".")

    settings = Settings(
        environment=environment,
        secret_key=secret_key,
        database_url=database_url,
        instance_path=instance_path,
        password_salt=password_salt,
        totp_secrets=_totp_secrets(totp_raw),
        storage_keys=_storage_keys(storage_raw),
        evidence_max_bytes=int(env.get("REFERRALS_EVIDENCE_MAX_BYTES", 2 * 1024**3)),
        phone_region=env.get("REFERRALS_PHONE_REGION", "US").upper(),
        legal_time_zone=env.get("REFERRALS_LEGAL_TIME_ZONE", "America/Los_Angeles"),
        connector=env.get("REFERRALS_CONNECTOR", "referrals.connector.demo:DemoConnector"),
        retention_days=_bounded_int(env, "REFERRALS_RETENTION_DAYS", 730, 1, 36500),
        preservation_action_hours=_bounded_int(env, "REFERRALS_PRESERVATION_ACTION_HOURS", 24,
                                               1, 24 * 14),
        hold_reminder_days=_day_list(env.get("REFERRALS_HOLD_REMINDER_DAYS", "14,7")),
        team_emails=tuple(e.strip() for e in env.get("REFERRALS_TEAM_EMAILS", "").split(",")
                          if e.strip()),
        base_url=env.get("REFERRALS_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        smtp_host=env.get("REFERRALS_SMTP_HOST") or None,
        smtp_port=int(env.get("REFERRALS_SMTP_PORT", "25")),
        smtp_starttls=_bool(env.get("REFERRALS_SMTP_STARTTLS"), False),
        smtp_username=env.get("REFERRALS_SMTP_USERNAME") or None,
        smtp_password=env.get("REFERRALS_SMTP_PASSWORD") or None,
        mail_sender=env.get("REFERRALS_MAIL_SENDER", "ler-no-reply@referrals.invalid"),
        oncall_emails=tuple(e.strip() for e in env.get("REFERRALS_ONCALL_EMAILS", "").split(",")
                            if e.strip()),
        oncall_webhook_url=env.get("REFERRALS_ONCALL_WEBHOOK_URL") or None,
        emergency_line=_emergency_line(env.get("REFERRALS_EMERGENCY_LINE", "")),
        dashboard_refresh_seconds=_bounded_int(env, "REFERRALS_DASHBOARD_REFRESH_SECONDS", 15, 1,
                                               3600),
        qa_sample_rate=_sample_rate(env.get("REFERRALS_QA_SAMPLE_RATE")),
        evidence_view_window_seconds=_bounded_int(env, "REFERRALS_EVIDENCE_VIEW_WINDOW_SECONDS",
                                                  600, 0, 86400),
        redis_url=env.get("REDIS_URL") or None,
        jobs_immediate=_bool(env.get("REFERRALS_JOBS_IMMEDIATE"), environment == "test"),
        outbox_lease_seconds=_bounded_int(env, "REFERRALS_OUTBOX_LEASE_SECONDS", 600, 1, 86400),
        outbox_max_attempts=_bounded_int(env, "REFERRALS_OUTBOX_MAX_ATTEMPTS", 6, 1, 100),
        http_timeout_seconds=_bounded_int(env, "REFERRALS_HTTP_TIMEOUT_SECONDS", 10, 1, 300),
        http_retries=_bounded_int(env, "REFERRALS_HTTP_RETRIES", 3, 0, 10),
        rate_limit_storage_url=env.get("REFERRALS_RATE_LIMIT_STORAGE", "memory://"),
        sign_in_rate_limit=env.get("REFERRALS_SIGN_IN_RATE_LIMIT", "10 per minute"),
        secure_cookies=_bool(env.get("REFERRALS_SECURE_COOKIES"), environment != "development"),
        signing_key_path=signing_key_path,
        signing_key_generate=not production and not signing_key_raw,
        signing_retired_keys=_public_key_lines(env.get("REFERRALS_SIGNING_RETIRED_KEYS", "")),
        audit_checkpoint_dir=checkpoint_dir,
        audit_checkpoint_webhook_url=checkpoint_webhook,
        audit_checkpoint_minutes=_checkpoint_minutes(
            env.get("REFERRALS_AUDIT_CHECKPOINT_MINUTES") or "60"),
        trusted_proxies=_bounded_int(env, "REFERRALS_TRUSTED_PROXIES", 0, 0, 5),
        package_dir=Path(env.get("REFERRALS_PACKAGE_DIR") or instance_path / "packages").resolve(),
        package_expiry_days=_bounded_int(env, "REFERRALS_PACKAGE_EXPIRY_DAYS", 14, 1, 90),
        package_download_limit=_bounded_int(env, "REFERRALS_PACKAGE_DOWNLOAD_LIMIT", 5, 1, 50),
        package_escrow_recipient=env.get("REFERRALS_PACKAGE_ESCROW_RECIPIENT") or None,
        sign_in_failures_per_address=_bounded_int(env, "REFERRALS_SIGN_IN_FAILURES_PER_ADDRESS",
                                                  10, 1, 1000),
        lockout_release_after=_lockout_release(env.get("REFERRALS_LOCKOUT_RELEASE_MINUTES")),
        api_token_days=_bounded_int(env, "REFERRALS_API_TOKEN_DAYS", 90, 1, 3650),
        api_token_max_days=_bounded_int(env, "REFERRALS_API_TOKEN_MAX_DAYS", 365, 1, 3650),
        officer_reconfirm_days=_bounded_int(env, "REFERRALS_OFFICER_RECONFIRM_DAYS", 365, 30,
                                            3650),
        officer_reconfirm_grace_days=_bounded_int(env, "REFERRALS_OFFICER_RECONFIRM_GRACE_DAYS",
                                                  30, 1, 180),
        ncmec_base_url=env.get("REFERRALS_NCMEC_BASE_URL", NCMEC_PRODUCTION_URL if production
                               else NCMEC_TEST_URL).rstrip("/"),
        ncmec_username=env.get("REFERRALS_NCMEC_USERNAME", ""),
        ncmec_password=env.get("REFERRALS_NCMEC_PASSWORD", ""),
        # Made-up reporting person for demos and tests; production names a real one.
        ncmec_reporter_first_name=env.get("REFERRALS_NCMEC_REPORTER_FIRST_NAME",
                                          "" if production else "Demo"),
        ncmec_reporter_last_name=env.get("REFERRALS_NCMEC_REPORTER_LAST_NAME",
                                         "" if production else "Reporter"),
        ncmec_reporter_email=env.get("REFERRALS_NCMEC_REPORTER_EMAIL",
                                     "" if production else "cybertip-demo@referrals.invalid"),
        ncmec_platform=env.get("REFERRALS_NCMEC_PLATFORM", "Platform"),
        ncmec_filing_target_hours=_bounded_int(env, "REFERRALS_NCMEC_FILING_TARGET_HOURS", 24,
                                               1, 24 * 30),
        ncmec_sandbox=_bool(env.get("REFERRALS_NCMEC_SANDBOX"), environment != "production"),
        metrics_token=env.get("REFERRALS_METRICS_TOKEN") or None,
        outbox_keep_days=_bounded_int(env, "REFERRALS_OUTBOX_KEEP_DAYS", 30, 1, 3650),
        progress_keep_days=_bounded_int(env, "REFERRALS_PROGRESS_KEEP_DAYS", 30, 1, 3650),
        sign_in_failure_keep_days=_bounded_int(env, "REFERRALS_SIGN_IN_FAILURE_KEEP_DAYS", 365,
                                               30, 3650),
        log_format=_log_format(env.get("REFERRALS_LOG_FORMAT"), production),
        cluster=_bool(env.get("REFERRALS_CLUSTER"), False),
        storage_shared=_bool(env.get("REFERRALS_STORAGE_SHARED"), False),
        **_storage_backend(env),
    )
    if settings.api_token_days > settings.api_token_max_days:
        raise ConfigError("REFERRALS_API_TOKEN_DAYS cannot be more than "
                          f"REFERRALS_API_TOKEN_MAX_DAYS ({settings.api_token_max_days})")
    if overrides:
        settings = Settings(**{**settings.__dict__, **overrides})
    return settings
