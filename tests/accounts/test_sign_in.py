from datetime import timedelta

from sqlalchemy import select

from referrals.audit.models import AuditEvent
from referrals.core import clock
from referrals.extensions import db
from tests import factories


def _actions(user_id=None):
    query = select(AuditEvent.action).order_by(AuditEvent.seq)
    if user_id is not None:
        query = query.where(AuditEvent.object_id == str(user_id))
    return list(db.session.scalars(query))


def test_password_then_totp_reaches_dashboard(client, sign_in, make_user):
    user = make_user("agent")
    response = sign_in.password_step(user.email)
    assert response.status_code == 302 and "/tf-validate" in response.headers["Location"]
    # The password alone does not sign anyone in.
    assert client.get("/dashboard").status_code == 302

    response = sign_in.code_step(factories.totp_code(user))
    assert response.status_code == 302
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert user.email in page.text
    assert "sign_in.succeeded" in _actions(user.id)
