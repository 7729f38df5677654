from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (BooleanField, EmailField, HiddenField, PasswordField, SelectField,
                     StringField, TextAreaField)
from wtforms.validators import DataRequired, Email, Length, Optional

from referrals.core.forms import DayField, MultiCheckboxField
from referrals.core.inputs import LegalDate
from referrals.requests import rules
from referrals.vocabulary.entities import LEGAL_ENTITIES
from referrals.vocabulary.identifiers import KINDS

TYPE_CHOICES = [(k, t.label) for k, t in rules.REQUEST_TYPES.items() if not t.emergency]
TARGET_ROWS = 5


class RegistrationForm(FlaskForm):
    email = EmailField("Official e-mail address", validators=[DataRequired(), Email(), Length(max=255)])
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
    badge_number = StringField("Badge or warrant number", validators=[Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])


class _TargetsMixin:
    @staticmethod
    def target_fields():
        return {f"target_kind_{i}": SelectField("Type", choices=[("", "—")] + list(KINDS.items()),
                                                validators=[Optional()])
                for i in range(TARGET_ROWS)} | {
               f"target_value_{i}": StringField("Identifier", validators=[Optional(), Length(max=320)])
               for i in range(TARGET_ROWS)}


class RequestForm(FlaskForm):
    request_type = SelectField("Type of legal process", choices=TYPE_CHOICES)
    emergency = BooleanField("Emergency EPOC (imminent threat to life or safety): 8 hours")
    enforcing_authority_notified = BooleanField(
        "EPOC: the enforcing authority is notified (Regulation (EU) 2023/1543, art. 8)")
    return_date = DayField("Return or compliance date on the process",
                            validators=[Optional(), LegalDate()])
    addressed_to = SelectField("Addressed to", choices=list(LEGAL_ENTITIES.items()))
    related_reference = StringField("Earlier request it renews or follows",
                                    validators=[Optional(), Length(max=24)])
    issuing_authority = StringField("Issuing court or authority", validators=[Length(max=300)])
    officer_name = StringField("Officer name", validators=[DataRequired(), Length(max=200)])
    badge_number = StringField("Badge number", validators=[Length(max=64)])
    official_email = EmailField("Official e-mail", validators=[DataRequired(), Email(), Length(max=255)])
    phone = StringField("Phone", validators=[DataRequired(), Length(max=40)])
    data_categories = MultiCheckboxField("Data categories", choices=list(rules.DATA_CATEGORIES.items()))
    date_from = DayField("From", validators=[Optional(), LegalDate()])
    date_to = DayField("To", validators=[Optional(), LegalDate()])
    legal_basis = TextAreaField("Legal basis cited", validators=[Length(max=5000)])
    offences = TextAreaField("Offences and circumstances", validators=[Length(max=10000)])
    user_notice_allowed = BooleanField("The user may be notified")
    nondisclosure_order = BooleanField("A non-disclosure order applies")
    nondisclosure_until = DayField("Non-disclosure order ends", validators=[Optional(), LegalDate()])
    documents = MultipleFileField("Legal process (PDF)")


class EmergencyForm(FlaskForm):
    officer_name = StringField("Officer name", validators=[DataRequired(), Length(max=200)])
    badge_number = StringField("Badge number", validators=[Length(max=64)])
    official_email = EmailField("Official e-mail", validators=[DataRequired(), Email(), Length(max=255)])
    phone = StringField("Phone", validators=[DataRequired(), Length(max=40)])
    emergency_description = TextAreaField("The emergency", validators=[DataRequired(), Length(max=5000)])
    person_at_risk = TextAreaField("Who is at risk", validators=[DataRequired(), Length(max=2000)])
    why_data_helps = TextAreaField("Why this data helps", validators=[DataRequired(), Length(max=5000)])
    data_categories = MultiCheckboxField("Data categories", choices=list(rules.DATA_CATEGORIES.items()))
    date_from = DayField("From", validators=[Optional(), LegalDate()])
    date_to = DayField("To", validators=[Optional(), LegalDate()])
    documents = MultipleFileField("Supporting document (PDF, optional)")
    # The statement's words are its label: what the officer reads is what is recorded.
    good_faith_attested = BooleanField(rules.GOOD_FAITH.text, description="Good-faith statement")


for _form in (RequestForm, EmergencyForm):
    for _name, _field in _TargetsMixin.target_fields().items():
        setattr(_form, _name, _field)


class MessageForm(FlaskForm):
    body = TextAreaField("Message", validators=[DataRequired("Write the message first."),
                                                Length(max=20000)])
    internal = BooleanField("Internal note (never shown to the agency)")


class StaffMessageForm(FlaskForm):
    """A message written by staff: kept as an internal note unless the person previews it
    and then sends it to the agency (``action``: which button was pressed)."""
    body = TextAreaField("Message", validators=[DataRequired("Write the message first."),
                                                Length(max=20000)])
    # Set by the button pressed; not a hidden field (hidden_tag() would send an empty one
    # first, and the button's value would be lost).
    action = StringField()


class CannedTextForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Give the text a short title."),
                                             Length(max=120)])
    body = TextAreaField("Text", validators=[DataRequired("Write the text."), Length(max=20000)])


class ClockNoteForm(FlaskForm):
    """Stopping or restarting a request's clock, or an NDO review: what happened."""

    note = TextAreaField("What happened", validators=[DataRequired("Say what happened first."),
                                                      Length(max=5000)])


class FollowUpForm(FlaskForm):
    """An officer's further documents for a request, or their answer to "needs information"."""

    body = TextAreaField("Your answer", validators=[Length(max=20000)])
    documents = MultipleFileField("Documents (PDF)")


class TimeZoneForm(FlaskForm):
    time_zone = SelectField("Show times in", choices=[])


class ColleagueForm(FlaskForm):
    email = EmailField("Colleague's e-mail", validators=[DataRequired(), Length(max=255)])


class WithdrawForm(FlaskForm):
    reason = StringField("Why (optional)", validators=[Length(max=2000)])


class MoveForm(FlaskForm):
    # No move is preselected: one stray click must not change what the agency is told.
    status = SelectField("Move to", choices=[("", "Choose…"), *rules.STATUSES.items()],
                         validators=[DataRequired(message="Choose the status to move the request to.")])
    reason = TextAreaField("Reason (the agency reads it)", validators=[Length(max=5000)])


class AssignForm(FlaskForm):
    assignee_id = SelectField("Assign to", coerce=int)
    # The queue page the form was posted from (with its filters), to go back to.
    back = HiddenField()


class CallbackForm(FlaskForm):
    phone_id = SelectField("Number called (from the agency registry)", coerce=int)
    outcome = TextAreaField("Who answered and what they confirmed",
                            validators=[DataRequired(), Length(max=2000)])


class TokenRequestForm(FlaskForm):
    name = StringField("What it is for", validators=[DataRequired(), Length(max=100)])

