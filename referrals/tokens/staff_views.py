"""Admin screens for API tokens (integration accounts and, later, officers)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from referrals.core.forms import ConfirmForm, MultiCheckboxField
from referrals.accounts.services import find_user_by_email
from referrals.core.acting import act, attempt
from referrals.core.clock import now
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity
from referrals.core.scopes import SCOPES
from referrals.tokens import services

bp = staff_blueprint("tokens", __name__, url_prefix="/admin/tokens")


class TokenForm(FlaskForm):
    email = EmailField("Account (e-mail)", validators=[DataRequired(), Length(max=255)])
    name = StringField("What it is for", validators=[DataRequired(), Length(max=100)])
    scopes = MultiCheckboxField("Scopes", choices=[(k, f"{k} — {v.description}")
                                                   for k, v in SCOPES.items()])
    # In days on the page; named as the service's field so that its refusal lands under it.
    expires_at = IntegerField("Expires after (days)",
                              validators=[Optional(), NumberRange(min=1)])


def _settings():
    return current_app.config["REFERRALS_SETTINGS"]


@bp.get("/")
@roles_required("admin")
def index():
    return render_template("tokens/index.html", tokens=services.tokens_for_listing(),
                           moment=now(), confirm=ConfirmForm())


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def create():
    form = TokenForm()
    if not form.is_submitted():
        form.expires_at.data = _settings().api_token_days
    if form.validate_on_submit():
        user = find_user_by_email(form.email.data)
        if user is None:
            form.email.errors.append("There is no account with this e-mail address.")
        else:
            days = form.expires_at.data
            created = attempt(services.create_token, current_identity(), user,
                              scopes=form.scopes.data, name=form.name.data,
                              expires_at=now() + timedelta(days=days) if days else None,
                              form=form, field="scopes")
            if created.ok:
                token, secret = created.value
                return render_template("tokens/created.html", token=token, secret=secret)
    return (render_template("tokens/new.html", form=form,
                            max_days=_settings().api_token_max_days),
            422 if form.errors else 200)


@bp.post("/<int:token_id>/revoke")
@roles_required("admin")
def revoke(token_id: int):
    form = ConfirmForm()
    token = services.get_token(token_id)
    act(form, services.revoke_token, current_identity(), token,
        done=f"Token {token.prefix}… revoked.")
    return redirect(url_for(".index"))
