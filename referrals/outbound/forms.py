"""The forms of the referral pages: each lists its fields; the services check the rest."""

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from referrals.cases.rules import CATEGORIES
from referrals.core.forms import MultiCheckboxField
from referrals.outbound.rules import DELIVERY_METHODS, HAND_CHANNELS, LEGAL_BASES


class DraftForm(FlaskForm):
    agency_id = SelectField("Agency", coerce=int, validate_choice=False)
    incident_type = SelectField("Type of incident", choices=[("", "Choose…"),
                                                             *CATEGORIES.items()])
    reason = TextAreaField("Why this agency", validators=[Length(max=20000)])
    summary = TextAreaField("Summary for the agency", validators=[Length(max=20000)])
    legal_basis = SelectField("Legal basis for the disclosure",
                              choices=[("", "Choose…"), *LEGAL_BASES.items()])
    legal_basis_note = StringField("Details of the legal basis (optional)",
                                   validators=[Length(max=2000)])
    subject_ids = MultiCheckboxField("Subjects to name", coerce=int, validate_choice=False)
    evidence_ids = MultiCheckboxField("Evidence to include", coerce=int, validate_choice=False)


class SendForm(FlaskForm):
    method = SelectField("How it was sent", choices=list(DELIVERY_METHODS.items()))
    delivered_by = StringField("Delivered by", validators=[Length(max=200)])
    channel = SelectField("Delivered", choices=[("", "Choose…"), *HAND_CHANNELS.items()])
    delivered_at = DateTimeLocalField("Delivered at (empty: now)", format="%Y-%m-%dT%H:%M",
                                      validators=[Optional()])
    package_id = SelectField("Encrypted package carried", coerce=int, validate_choice=False)
    ncmec_report_id = SelectField("CyberTipline report", coerce=int, validate_choice=False)
    note = TextAreaField("Note (through the portal: the message its officers read)",
                         validators=[Length(max=4000)])


class ReasonForm(FlaskForm):
    reason = StringField("Why", validators=[Length(max=2000)])


class AcknowledgeForm(FlaskForm):
    agency_reference = StringField("The agency's reference", validators=[Length(max=120)])
