from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from referrals.agencies.models import AGENCY_KINDS, AGENCY_STATUSES
from referrals.directory.models import CHECK_METHODS
from referrals.vocabulary.entities import LEGAL_ENTITIES


class AgencyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=list(AGENCY_KINDS.items()))
    country = StringField("Country (ISO 3166 two letters)", validators=[DataRequired(), Length(max=2)])
    legal_entity = SelectField("Our legal entity that receives its requests",
                               choices=list(LEGAL_ENTITIES.items()))
    status = SelectField("Status", choices=list(AGENCY_STATUSES.items()))
    domains = TextAreaField("Verified e-mail domains (one per line)")
    phones = TextAreaField("Call-back numbers (one per line: number, then a label)")
    notes = TextAreaField("Notes", validators=[Length(max=5000)])
    confirm_suspend = BooleanField("Yes, suspend this agency")

    # The agency's status before this edit (None for a new one), set by the view.
    current_status: str | None = None

    def validate_confirm_suspend(self, field):
        # Suspending cuts off every officer of the agency at once, so it takes a second,
        # deliberate step: the page asks, and only a ticked box goes through.
        if (self.status.data == "suspended" and self.current_status not in (None, "suspended")
                and not field.data):
            raise ValidationError("Its officers can then no longer submit requests or make API "
                                  "tokens, and no one can register on its domains. Tick the box "
                                  "to confirm, then save again.")


class KeyForm(FlaskForm):
    public_key = StringField("Public key (age1… or ssh-ed25519 …)", validators=[DataRequired(), Length(max=400)])
    label = StringField("Label", validators=[Length(max=100)])


class LinkEntryForm(FlaskForm):
    agency_id = SelectField("Agency", coerce=int, choices=[])


class OfficialDomainForm(FlaskForm):
    domain = StringField("Domain", validators=[DataRequired(), Length(max=253)])
    organization = StringField("Force or government body", validators=[DataRequired(),
                                                                       Length(max=300)])
    country = StringField("Country (ISO 3166 two letters)", validators=[DataRequired(),
                                                                        Length(max=2)])
    method = SelectField("How you checked", choices=list(CHECK_METHODS.items()))
    evidence = TextAreaField("What you saw (page address, number called and who answered, "
                             "letter reference)", validators=[DataRequired(), Length(max=5000)])
