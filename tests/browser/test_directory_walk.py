"""Issue 18, walked in Chromium: after the .gov registry is loaded, a supervisor sees on the
approval page which organisation each waiting officer's address belongs to, and why to look
twice at a look-alike; checks a domain in the agency directory; and reads the "who is asking"
panel on a request. The approval page and the panel are looked at at 1280 and 390 px.

The module runs its own server (its own database): the officers it adds do not show up in the
other browser tests' pages.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from playwright.sync_api import Page, expect

from tests.browser.live_server import ROOT, LiveServer
from tests.browser.test_sign_in_flow import sign_in_demo
from tests.directory.conftest import REGISTRY_FILE

pytestmark = pytest.mark.browser

SUPERVISOR = "supervisor@referrals.example"
SHOTS = ROOT / "test-artifacts" / "browser"

# Two officers waiting for approval, each on an agency staff verified: one at a sub-domain of
# a real .gov registry entry, one at a look-alike of it (1 for l, "gov" in the name).
SETUP = """
from referrals import create_app
from referrals.agencies.models import Agency, AgencyDomain
from referrals.core.clock import now
from referrals.extensions import db
from tests import factories

app = create_app()
with app.app_context():
    for name, domain, email in [
        ("Made-up Palms Police", "police.29palms.gov", "dana.madeup@police.29palms.gov"),
        ("Made-up Lookalike Police", "29pa1ms-gov.us", "chris.madeup@29pa1ms-gov.us"),
    ]:
        agency = Agency(name=name, kind="law_enforcement", country="US", status="verified",
                        legal_entity="us", created_at=now())
        agency.domains = [AgencyDomain(domain=domain)]
        db.session.add(agency)
        db.session.flush()
        factories.make_user("officer", agency=agency, email=email, approved_at=None,
                            full_name="Officer " + email.split(".")[0].title())
    db.session.commit()
"""


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("directory-walk-instance"))
    with server:
        server.flask("agencies", "import-directory", str(REGISTRY_FILE))
        subprocess.run([sys.executable, "-c", SETUP], cwd=ROOT, env=server.env, check=True,
                       timeout=120)
        yield server


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"directory-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_a_supervisor_sees_who_is_asking(page: Page):
    page.goto("/login")
    sign_in_demo(page, SUPERVISOR)

    page.goto("/agencies/")
    waiting = page.locator("#pending-officers")
    palms = waiting.locator("tr", has_text="dana.madeup@police.29palms.gov")
    expect(palms).to_contain_text("In the .gov registry")
    expect(palms).to_contain_text("City of Twentynine Palms")
    lookalike = waiting.locator("tr", has_text="chris.madeup@29pa1ms-gov.us")
    expect(lookalike).to_contain_text("in neither the .gov registry")
    expect(lookalike).to_contain_text("Looks like 29palms.gov (City of Twentynine Palms)")
    shoot(page, "approval")

    page.click("#directory-link")
    page.get_by_label("Domain or e-mail address").fill("someone@rnetropolisil.gov")
    page.click("#check-domain")
    expect(page.locator("#assessment")).to_contain_text("Looks like metropolisil.gov")
    page.get_by_label("Organisation or domain").fill("twentynine palms")
    page.click("#search-directory")
    page.locator("#directory-results").get_by_text("29palms.gov", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("29palms.gov")
    # Our agency on a sub-domain of the entry is listed; there is nothing to create.
    expect(page.get_by_role("link", name="Made-up Palms Police")).to_be_visible()
    expect(page.locator("#create-from-entry")).to_have_count(0)
    shoot(page, "entry")
    # An entry none of our agencies is on offers to create one from it.
    page.goto("/agencies/directory/")
    page.get_by_label("Organisation or domain").fill("metropolisil.gov")
    page.click("#search-directory")
    page.locator("#directory-results").get_by_text("metropolisil.gov", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("metropolisil.gov")
    expect(page.locator("#create-from-entry")).to_be_visible()

    page.goto("/requests/")
    page.locator("table a[href^='/requests/REQ-']").first.click()
    panel = page.locator("#who-is-asking")
    expect(panel).to_contain_text("Who is asking")
    expect(panel).to_contain_text("Approved")
    # The demo agency's domain is in no official list: said, not hidden.
    expect(panel).to_contain_text("in neither the .gov registry")
    panel.scroll_into_view_if_needed()
    shoot(page, "request")
