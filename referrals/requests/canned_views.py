"""The canned-texts page: everyone who works requests reads them; supervisors write them."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from referrals.core.acting import act
from referrals.core.guards import roles_required, staff_blueprint
from referrals.core.identity import WORKERS, current_identity
from referrals.requests import canned
from referrals.requests.forms import CannedTextForm

bp = staff_blueprint("canned_texts", __name__, url_prefix="/requests/canned-texts")


@bp.get("/")
@roles_required(*WORKERS)
def index():
    identity = current_identity()
    texts = canned.canned_texts(identity)
    forms = {t.id: CannedTextForm(prefix=f"t{t.id}", data={"title": t.title, "body": t.body})
             for t in texts}
    return render_template("requests/canned_texts.html", texts=texts, forms=forms,
                           new_form=CannedTextForm(prefix="new"),
                           may_edit=canned.canned_policy.can(identity, "edit"))


@bp.post("/")
@roles_required("supervisor")
def create():
    form = CannedTextForm(prefix="new")
    act(form, canned.create_canned_text, current_identity(), form.title.data, form.body.data,
        done=lambda text: f"“{text.title}” added.")
    return redirect(url_for(".index"))


@bp.post("/<int:text_id>")
@roles_required("supervisor")
def update(text_id: int):
    identity = current_identity()
    text = canned.get_canned_text(identity, text_id)
    form = CannedTextForm(prefix=f"t{text.id}")
    act(form, canned.update_canned_text, identity, text, form.title.data, form.body.data,
        done=lambda changed: f"“{changed.title}” saved.")
    return redirect(url_for(".index") + f"#text-{text.id}")
