"""Admin screens for API tokens (integration accounts and, later, officers)."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Length

from referrals.core.forms import ConfirmForm, MultiCheckboxField
from referrals.accounts.services import find_user_by_email
from referrals.core.acting import act, attempt
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity
from referrals.tokens import services
from referrals.tokens.services import SCOPES

bp = staff_blueprint("tokens", __name__, url_prefix="/admin/tokens")


class TokenForm(FlaskForm):
    email = EmailField("Account (e-mail)", validators=[DataRequired(), Length(max=255)])
    name = StringField("What it is for", validators=[DataRequired(), Length(max=100)])
    scopes = MultiCheckboxField("Scopes", choices=[(k, f"{k} — {v[0]}") for k, v in SCOPES.items()])


@bp.get("/")
@roles_required("admin")
def index():
    return render_template("tokens/index.html", tokens=services.tokens_for_listing(),
                           confirm=ConfirmForm())


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def create():
    form = TokenForm()
    if form.validate_on_submit():
        user = find_user_by_email(form.email.data)
        if user is None:
            form.email.errors.append("There is no account with this e-mail address.")
        else:
            created = attempt(services.create_token, current_identity(), user,
                              scopes=form.scopes.data, name=form.name.data, form=form,
                              field="scopes")
            if created.ok:
                token, secret = created.value
                return render_template("tokens/created.html", token=token, secret=secret)
    return render_template("tokens/new.html", form=form), 422 if form.errors else 200


@bp.post("/<int:token_id>/revoke")
@roles_required("admin")
def revoke(token_id: int):
    form = ConfirmForm()
    token = services.get_token(token_id)
    act(form, services.revoke_token, current_identity(), token,
        done=f"Token {token.prefix}… revoked.")
    return redirect(url_for(".index"))
