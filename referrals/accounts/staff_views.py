"""Admin screens: staff accounts, roles, locks."""

from flask import flash, redirect, render_template, url_for
from sqlalchemy import select

from referrals.accounts import services
from referrals.accounts.forms import CreateStaffUserForm, StaffAccessForm
from referrals.core.forms import ConfirmForm
from referrals.accounts.models import User
from referrals.core.acting import act, attempt
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import current_identity
from referrals.extensions import db

bp = staff_blueprint("accounts", __name__, url_prefix="/admin/accounts")


@bp.get("/")
@roles_required("admin")
def index():
    users = db.session.scalars(select(User).order_by(User.kind.desc(), User.email)).all()
    return render_template("accounts/index.html", users=users, confirm=ConfirmForm())


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def create():
    form = CreateStaffUserForm()
    if form.validate_on_submit():
        created = attempt(services.create_staff_user, current_identity(),
                          email=form.email.data, full_name=form.full_name.data,
                          roles=form.roles.data, cleared_for_csam=form.cleared_for_csam.data,
                          form=form, field="email")
        if created.ok:
            user, initial = created.value
            return render_template("accounts/credential.html", user=user, password=initial,
                                   what="Account created")
    return render_template("accounts/new.html", form=form), 200 if not form.errors else 422


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def detail(user_id: int):
    user = services.get_user(user_id)
    form = StaffAccessForm(obj=None)
    if form.validate_on_submit():
        if attempt(services.change_access, current_identity(), user, roles=form.roles.data,
                   cleared_for_csam=form.cleared_for_csam.data, form=form, field="roles").ok:
            flash(f"Access for {user.email} saved. Their open sessions have ended.", "success")
            return redirect(url_for(".detail", user_id=user.id))
    elif not form.is_submitted():
        form.roles.data = user.role_names
        form.cleared_for_csam.data = user.cleared_for_csam
    return (
        render_template("accounts/detail.html", user=user, form=form, confirm=ConfirmForm(),
                        own_account=current_identity().user_id == user.id,
                        failures=services.recent_failures(user),
                        failure_reasons=services.FAILURE_REASONS),
        422 if form.errors else 200,
    )


def _confirmed_action(user_id: int, action, message: str):
    user = services.get_user(user_id)
    act(ConfirmForm(), action, current_identity(), user, done=message.format(email=user.email))
    return redirect(url_for(".detail", user_id=user.id))


@bp.post("/<int:user_id>/unlock")
@roles_required("admin")
def unlock(user_id: int):
    return _confirmed_action(user_id, services.unlock_user, "{email} is unlocked.")


@bp.post("/<int:user_id>/disable")
@roles_required("admin")
def disable(user_id: int):
    return _confirmed_action(user_id, services.disable_user, "{email} is disabled and signed out.")


@bp.post("/<int:user_id>/enable")
@roles_required("admin")
def enable(user_id: int):
    return _confirmed_action(user_id, services.enable_user, "{email} is enabled.")


@bp.post("/<int:user_id>/reset-two-factor")
@roles_required("admin")
def reset_two_factor(user_id: int):
    return _confirmed_action(
        user_id, services.reset_two_factor,
        "{email} will enrol a new authenticator at their next sign-in.",
    )


@bp.post("/<int:user_id>/reset-password")
@roles_required("admin")
def reset_password(user_id: int):
    form = ConfirmForm()
    user = services.get_user(user_id)
    if not form.validate_on_submit():
        flash("The form expired. Try again.", "error")
        return redirect(url_for(".detail", user_id=user.id))
    initial = services.reset_password(current_identity(), user)
    return render_template("accounts/credential.html", user=user, password=initial,
                           what="Password reset")
