"""NCMEC settings: the test environment by default; production refuses the test endpoint
and the sandbox."""

from __future__ import annotations

import pytest

from config import NCMEC_PRODUCTION_URL, NCMEC_TEST_URL, ConfigError, load_settings
from tests.test_config import production  # noqa: F401  (fixture)


def test_development_talks_to_ncmecs_test_environment(tmp_path):
    settings = load_settings({"REFERRALS_ENV": "development",
                              "REFERRALS_INSTANCE_PATH": str(tmp_path)})
    assert settings.ncmec_base_url == NCMEC_TEST_URL
    assert settings.ncmec_sandbox is True
    assert settings.ncmec_filing_target_hours == 24


def test_production_defaults_to_the_production_endpoint_without_the_sandbox(production):
    settings = load_settings(production)
    assert settings.ncmec_base_url == NCMEC_PRODUCTION_URL
    assert settings.ncmec_sandbox is False
    assert settings.ncmec_reporter_email == ""  # no made-up reporter in production


@pytest.mark.parametrize("url", [NCMEC_TEST_URL, "http://127.0.0.1:5000/ncmec-sandbox/ispws",
                                 "https://app.example/ncmec-sandbox/ispws"])
def test_production_refuses_the_test_endpoint_and_the_sandbox(production, url):
    with pytest.raises(ConfigError, match="REFERRALS_NCMEC_BASE_URL"):
        load_settings({**production, "REFERRALS_NCMEC_BASE_URL": url})


def test_production_refuses_to_serve_the_sandbox(production):
    with pytest.raises(ConfigError, match="REFERRALS_NCMEC_SANDBOX"):
        load_settings({**production, "REFERRALS_NCMEC_SANDBOX": "1"})


def test_filing_target_is_bounded(tmp_path):
    with pytest.raises(ConfigError):
        load_settings({"REFERRALS_ENV": "development", "REFERRALS_INSTANCE_PATH": str(tmp_path),
                       "REFERRALS_NCMEC_FILING_TARGET_HOURS": "0"})
