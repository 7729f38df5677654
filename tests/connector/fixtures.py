"""``use_connector(spec or instance)``: the app's platform connector for one test (import
the fixture into a test module or a conftest to use it)."""

from __future__ import annotations

from dataclasses import replace

import pytest

KEY = "referrals.connector"


@pytest.fixture
def use_connector(app):
    settings = app.config["REFERRALS_SETTINGS"]
    had = KEY in app.extensions
    before = app.extensions.get(KEY)

    def use(connector):
        app.extensions.pop(KEY, None)
        if isinstance(connector, str):  # a spec, as REFERRALS_CONNECTOR gives it
            app.config["REFERRALS_SETTINGS"] = replace(settings, connector=connector)
        else:
            app.extensions[KEY] = connector
        return connector

    yield use
    app.config["REFERRALS_SETTINGS"] = settings
    if had:
        app.extensions[KEY] = before
    else:
        app.extensions.pop(KEY, None)
