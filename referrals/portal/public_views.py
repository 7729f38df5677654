"""The portal's few public pages: registration and e-mail confirmation."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from referrals.core.acting import attempt
from referrals.extensions import limiter
from referrals.accounts.registration import confirm_email, register_officer
from referrals.accounts.standing import reconfirm_email
from referrals.requests.forms import RegistrationForm

bp = Blueprint("portal_public", __name__, url_prefix="/portal")


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
def register():
    form = RegistrationForm()
    if form.validate_on_submit():
        if attempt(register_officer, email=form.email.data, full_name=form.full_name.data,
                   badge_number=form.badge_number.data, password=form.password.data,
                   form=form, field="email").ok:
            return render_template("portal/registered.html", email=form.email.data)
    return render_template("portal/register.html", form=form), 422 if form.errors else 200


@bp.get("/confirm/<token>")
def confirm(token: str):
    confirm_email(token)
    flash("Your e-mail address is confirmed. Sign in to set up two-factor sign-in; the LER team "
          "will then approve your account.", "success")
    return redirect(url_for("security.login"))


@bp.get("/reconfirm/<token>")
def reconfirm(token: str):
    user = reconfirm_email(token)
    if user.approved_at is None:
        flash("Thank you: your address is confirmed. Your agency's e-mail domains have changed "
              "since your account was approved, so the LER team will approve it again before "
              "your next submission.", "success")
    else:
        flash("Thank you: your address is confirmed for another year.", "success")
    return redirect(url_for("security.login"))
