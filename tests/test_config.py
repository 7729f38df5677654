"""Typed settings: production refuses insecure defaults; development keeps its secrets."""

import base64
from datetime import timedelta
import json
import stat

import pytest

from config import ConfigError, Settings, load_settings

PRODUCTION_SECRET_KEY = "p" * 48
PRODUCTION_SALT = "s" * 24
PRODUCTION_TOTP = "1:" + "t" * 32
PRODUCTION_STORAGE = "1:" + base64.urlsafe_b64encode(b"k" * 32).decode()
PRODUCTION_DATABASE = "postgresql://referrals:referrals@db.internal.example:5432/referrals"


@pytest.fixture
def production(tmp_path):
    """A complete, acceptable production environment (synthetic values)."""
    return {
        "REFERRALS_ENV": "production",
        "REFERRALS_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": PRODUCTION_SECRET_KEY,
        "REFERRALS_PASSWORD_SALT": PRODUCTION_SALT,
        "REFERRALS_TOTP_SECRETS": PRODUCTION_TOTP,
        "REFERRALS_STORAGE_KEYS": PRODUCTION_STORAGE,
        "DATABASE_URL": PRODUCTION_DATABASE,
        "REFERRALS_SIGNING_KEY_FILE": str(tmp_path / "keys" / "signing-key"),
        "REFERRALS_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
    }


def _without(environ, name):
    return {key: value for key, value in environ.items() if key != name}


# --- production refuses -----------------------------------------------------------------


def test_full_production_environment_is_accepted(production, tmp_path):
    settings = load_settings(production)
    assert isinstance(settings, Settings)
    assert settings.environment == "production"
    assert settings.secret_key == PRODUCTION_SECRET_KEY
    assert settings.totp_secrets == {1: "t" * 32}
    assert not settings.is_sqlite
    assert settings.secure_cookies is True
    # Production never makes or reads development secrets.
    assert not (tmp_path / "instance" / "dev-secrets.json").exists()


def test_production_postgres_url_gets_the_psycopg3_driver(production):
    settings = load_settings(production)
    assert settings.database_url == (
        "postgresql+psycopg://referrals:referrals@db.internal.example:5432/referrals"
    )


def test_production_refuses_a_missing_secret_key(production):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings(_without(production, "SECRET_KEY"))


def test_production_refuses_an_empty_secret_key(production):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({**production, "SECRET_KEY": ""})


def test_production_refuses_the_default_secret_key(production):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({**production, "SECRET_KEY": "change-me"})


def test_production_refuses_a_short_secret_key(production):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({**production, "SECRET_KEY": "x" * 31})


def test_production_refuses_missing_totp_secrets(production):
    with pytest.raises(ConfigError, match="REFERRALS_TOTP_SECRETS"):
        load_settings(_without(production, "REFERRALS_TOTP_SECRETS"))


@pytest.mark.parametrize("raw", ["short", "1:tooshort", "one:" + "t" * 32, ":" + "t" * 32])
def test_malformed_totp_secrets_are_refused(production, raw):
    with pytest.raises(ConfigError, match="REFERRALS_TOTP_SECRETS"):
        load_settings({**production, "REFERRALS_TOTP_SECRETS": raw})


def test_totp_secrets_can_be_rotated(production):
    settings = load_settings({**production,
                              "REFERRALS_TOTP_SECRETS": f"1:{'a' * 20}, 2:{'b' * 20}"})
    assert settings.totp_secrets == {1: "a" * 20, 2: "b" * 20}


def test_production_refuses_a_missing_password_salt(production):
    with pytest.raises(ConfigError, match="REFERRALS_PASSWORD_SALT"):
        load_settings(_without(production, "REFERRALS_PASSWORD_SALT"))


@pytest.mark.parametrize("url", ["sqlite:///instance/referrals.db", "sqlite://"])
def test_production_refuses_a_sqlite_database(production, url):
    with pytest.raises(ConfigError, match="PostgreSQL"):
        load_settings({**production, "DATABASE_URL": url})


def test_production_refuses_a_missing_database_url(production):
    # Without DATABASE_URL the default is a SQLite file, which production refuses.
    with pytest.raises(ConfigError, match="PostgreSQL"):
        load_settings(_without(production, "DATABASE_URL"))


def test_production_lists_every_problem_at_once(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_settings({"REFERRALS_ENV": "production",
                       "REFERRALS_INSTANCE_PATH": str(tmp_path)})
    message = str(refused.value)
    assert message.startswith("Production refuses to start")
    for name in ("SECRET_KEY", "REFERRALS_PASSWORD_SALT", "REFERRALS_TOTP_SECRETS", "PostgreSQL"):
        assert name in message
    # The message names settings, never their values.
    assert "change-me" not in message


@pytest.mark.parametrize("value", ["0", "false", "no", "off"])
def test_production_refuses_insecure_cookies(production, value):
    """Regression: REFERRALS_SECURE_COOKIES=false was accepted in production, sending the
    session cookie over plain HTTP."""
    with pytest.raises(ConfigError, match="REFERRALS_SECURE_COOKIES"):
        load_settings({**production, "REFERRALS_SECURE_COOKIES": value})


def test_unknown_environment_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="REFERRALS_ENV"):
        load_settings({"REFERRALS_ENV": "staging", "REFERRALS_INSTANCE_PATH": str(tmp_path)})


# --- development keeps its secrets ---------------------------------------------------------


def test_development_writes_its_secrets_once_and_reuses_them(tmp_path):
    environ = {"REFERRALS_ENV": "development", "REFERRALS_INSTANCE_PATH": str(tmp_path / "inst")}
    secrets_file = tmp_path / "inst" / "dev-secrets.json"
    assert not secrets_file.exists()

    first = load_settings(environ)
    assert secrets_file.exists()
    written = secrets_file.read_text()
    stored = json.loads(written)
    assert stored["secret_key"] == first.secret_key
    assert len(first.secret_key) >= 32
    assert first.totp_secrets == {1: stored["totp_secret"]}
    # Only the owner can read it.
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600

    second = load_settings(environ)
    assert second.secret_key == first.secret_key
    assert second.password_salt == first.password_salt
    assert second.totp_secrets == first.totp_secrets
    assert secrets_file.read_text() == written


def test_each_development_instance_gets_its_own_secrets(tmp_path):
    one = load_settings({"REFERRALS_ENV": "development",
                         "REFERRALS_INSTANCE_PATH": str(tmp_path / "one")})
    two = load_settings({"REFERRALS_ENV": "development",
                         "REFERRALS_INSTANCE_PATH": str(tmp_path / "two")})
    assert one.secret_key != two.secret_key
    assert one.secret_key != "change-me"


def test_development_environment_values_win_over_the_secrets_file(tmp_path):
    environ = {"REFERRALS_ENV": "development", "REFERRALS_INSTANCE_PATH": str(tmp_path)}
    load_settings(environ)
    settings = load_settings({**environ, "SECRET_KEY": "d" * 40})
    assert settings.secret_key == "d" * 40


def test_development_defaults_to_sqlite_under_the_instance_folder(tmp_path):
    settings = load_settings({"REFERRALS_ENV": "development",
                              "REFERRALS_INSTANCE_PATH": str(tmp_path)})
    assert settings.is_sqlite
    assert str(tmp_path.resolve()) in settings.database_url


def test_environment_defaults_to_development(tmp_path):
    settings = load_settings({"REFERRALS_INSTANCE_PATH": str(tmp_path)})
    assert settings.environment == "development"


# --- cookies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "secure"),
    [("development", False), ("test", True), ("production", True)],
)
def test_secure_cookies_are_off_only_in_development(production, tmp_path, environment, secure):
    environ = production if environment == "production" else {
        "REFERRALS_ENV": environment, "REFERRALS_INSTANCE_PATH": str(tmp_path / environment)}
    settings = load_settings(environ)
    assert settings.secure_cookies is secure
    config = settings.flask_config()
    assert config["SESSION_COOKIE_SECURE"] is secure
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Strict"


def test_flask_config_carries_the_security_rules(production):
    config = load_settings(production).flask_config()
    assert config["SECURITY_PASSWORD_HASH"] == "argon2"
    assert config["SECURITY_TWO_FACTOR_REQUIRED"] is True
    assert config["SECURITY_TWO_FACTOR_ENABLED_METHODS"] == ["authenticator"]
    assert config["SECURITY_REGISTERABLE"] is False
    assert config["SECURITY_RECOVERABLE"] is False
    assert config["SECURITY_DEFAULT_REMEMBER_ME"] is False
    assert config["SECURITY_LOGOUT_METHODS"] == ["POST"]
    assert config["TESTING"] is False
    assert config["PERMANENT_SESSION_LIFETIME"].total_seconds() == 30 * 60


def test_durable_work_settings_are_read_and_bounded(production):
    settings = load_settings({**production, "REFERRALS_OUTBOX_LEASE_SECONDS": "120",
                              "REFERRALS_OUTBOX_MAX_ATTEMPTS": "3",
                              "REFERRALS_HTTP_TIMEOUT_SECONDS": "5", "REFERRALS_HTTP_RETRIES": "0"})
    assert (settings.outbox_lease_seconds, settings.outbox_max_attempts,
            settings.http_timeout_seconds, settings.http_retries) == (120, 3, 5, 0)
    defaults = load_settings(production)
    assert (defaults.outbox_lease_seconds, defaults.outbox_max_attempts,
            defaults.http_timeout_seconds, defaults.http_retries) == (600, 6, 10, 3)
    with pytest.raises(ConfigError, match="REFERRALS_HTTP_TIMEOUT_SECONDS must be between 1 and 300"):
        load_settings({**production, "REFERRALS_HTTP_TIMEOUT_SECONDS": "0"})
    with pytest.raises(ConfigError, match="REFERRALS_OUTBOX_LEASE_SECONDS must be a whole number"):
        load_settings({**production, "REFERRALS_OUTBOX_LEASE_SECONDS": "soon"})
# --- issue 10: tokens, lockout ----------------------------------------------------------


def test_flask_security_issues_and_accepts_no_authentication_token(production):
    config = load_settings(production).flask_config()
    assert config["SECURITY_API_ENABLED_METHODS"] == ["session"]
    assert config["SECURITY_BACKWARDS_COMPAT_AUTH_TOKEN"] is False


def test_token_lifetimes_and_lockout_defaults(production):
    settings = load_settings(production)
    assert (settings.api_token_days, settings.api_token_max_days) == (90, 365)
    assert settings.sign_in_failures_per_address == 10
    assert settings.lockout_release_after is None  # CJIS 5.9.5 AC-7: an administrator releases


def test_a_default_token_lifetime_above_the_maximum_is_refused(production):
    with pytest.raises(ConfigError, match="REFERRALS_API_TOKEN_DAYS cannot be more than"):
        load_settings({**production, "REFERRALS_API_TOKEN_DAYS": "400"})


@pytest.mark.parametrize("raw, minutes", [("30", 30), ("off", None), ("", None), ("0", None)])
def test_a_lock_may_be_set_to_lift_by_itself(production, raw, minutes):
    settings = load_settings({**production, "REFERRALS_LOCKOUT_RELEASE_MINUTES": raw})
    expected = timedelta(minutes=minutes) if minutes else None
    assert settings.lockout_release_after == expected


@pytest.mark.parametrize("raw", ["soon", "-5"])
def test_a_malformed_lock_release_is_refused(production, raw):
    with pytest.raises(ConfigError, match="REFERRALS_LOCKOUT_RELEASE_MINUTES"):
        load_settings({**production, "REFERRALS_LOCKOUT_RELEASE_MINUTES": raw})


# --- several machines ---------------------------------------------------------------------


def test_a_production_cluster_refuses_each_single_machine_default(production):
    with pytest.raises(ConfigError) as refused:
        load_settings({**production, "REFERRALS_CLUSTER": "1"})
    message = str(refused.value)
    assert "REDIS_URL is not set" in message
    assert "REFERRALS_RATE_LIMIT_STORAGE is memory://" in message
    assert "REFERRALS_STORAGE_SHARED is not" in message


def test_a_production_cluster_with_shared_engines_is_accepted(production):
    settings = load_settings({**production, "REFERRALS_CLUSTER": "1",
                              "REDIS_URL": "redis://cache.internal:6379/0",
                              "REFERRALS_RATE_LIMIT_STORAGE": "redis://cache.internal:6379/1",
                              "REFERRALS_STORAGE_SHARED": "1"})
    assert settings.cluster and settings.storage_shared
    assert settings.log_format == "json", "production logs JSON unless told otherwise"


def test_a_production_cluster_on_s3_needs_no_shared_mount(production):
    cluster = {**production, "REFERRALS_CLUSTER": "1", "REDIS_URL": "redis://cache.internal/0",
               "REFERRALS_RATE_LIMIT_STORAGE": "redis://cache.internal/1",
               "REFERRALS_STORAGE": "s3", "REFERRALS_S3_BUCKET": "evidence"}
    cluster.pop("REFERRALS_AUDIT_CHECKPOINT_DIR", None)
    cluster["REFERRALS_AUDIT_CHECKPOINT_WEBHOOK_URL"] = "https://anchor.example.org/checkpoints"
    settings = load_settings(cluster)
    assert settings.storage_backend == "s3" and settings.s3_bucket == "evidence"
    assert not settings.storage_shared
    # A checkpoint directory would be one machine's disk unless it is a shared mount.
    with pytest.raises(ConfigError, match="REFERRALS_AUDIT_CHECKPOINT_DIR but no shared mount"):
        load_settings({**cluster, "REFERRALS_AUDIT_CHECKPOINT_DIR": "/var/lib/checkpoints"})
    assert load_settings({**cluster, "REFERRALS_AUDIT_CHECKPOINT_DIR": "/var/lib/checkpoints",
                          "REFERRALS_STORAGE_SHARED": "1"}).storage_shared


@pytest.mark.parametrize("env, message", [
    ({"REFERRALS_STORAGE": "gcs"}, "REFERRALS_STORAGE must be local or s3"),
    ({"REFERRALS_STORAGE": "s3"}, "REFERRALS_S3_BUCKET"),
    ({"REFERRALS_STORAGE": "s3", "REFERRALS_S3_BUCKET": "b",
      "REFERRALS_S3_ENDPOINT_URL": "minio:9000"}, "REFERRALS_S3_ENDPOINT_URL"),
])
def test_s3_settings_are_checked(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({"REFERRALS_INSTANCE_PATH": str(tmp_path), **env})


def test_one_production_machine_may_keep_the_single_machine_defaults(production):
    assert not load_settings(production).cluster


def test_the_log_format_is_json_or_text(production):
    assert load_settings({**production, "REFERRALS_LOG_FORMAT": "text"}).log_format == "text"
    with pytest.raises(ConfigError, match="REFERRALS_LOG_FORMAT"):
        load_settings({**production, "REFERRALS_LOG_FORMAT": "xml"})
