"""The forms of the hold pages: each lists its fields; the services check the rest."""

from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from referrals.core.forms import MultiCheckboxField
from referrals.core.inputs import LegalDate
from referrals.vocabulary.categories import DATA_CATEGORIES

PLACEABLE_KINDS = [
    ("internal", "Internal legal hold — until released, reviewed every 180 days"),
    ("ncmec_report", "NCMEC report preservation — 1 year from the CyberTipline report's completion"),
]


class PlaceHoldForm(FlaskForm):
    kind = RadioField("Kind of hold", choices=PLACEABLE_KINDS, default="internal")
    identifiers = MultiCheckboxField("Accounts to hold", coerce=int)
    data_categories = MultiCheckboxField("Data categories", choices=list(DATA_CATEGORIES.items()))
    date_from = DateField("From", validators=[Optional(), LegalDate()])
    date_to = DateField("To", validators=[Optional(), LegalDate()])
    legal_basis = TextAreaField("Why the data is held", validators=[Length(max=5000)])
    report_id = StringField("CyberTipline report id", validators=[Length(max=64)])
    completed_at = DateTimeLocalField("Report completed at", format="%Y-%m-%dT%H:%M",
                                      validators=[Optional()])


class RenewForm(FlaskForm):
    note = StringField("How the renewal arrived",
                       validators=[DataRequired("Say how the renewal arrived."), Length(max=2000)])


class ExtendForm(FlaskForm):
    note = StringField("Annex VI request (reference, date received)", validators=[Length(max=2000)])


class ProductionForm(FlaskForm):
    production_reference = StringField(
        "Production order or legal process",
        validators=[DataRequired("Give the reference of the production order or legal process."),
                    Length(max=64)])
    note = StringField("Note (optional)", validators=[Length(max=2000)])


class ReleaseForm(FlaskForm):
    reason = TextAreaField("Why it is released",
                           validators=[DataRequired("Say why the hold is released."),
                                       Length(max=5000)])


class ReviewForm(FlaskForm):
    note = TextAreaField("Why it is still needed",
                         validators=[DataRequired("Say why the hold is still needed."),
                                     Length(max=5000)])
