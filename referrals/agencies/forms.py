from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from referrals.agencies.models import AGENCY_KINDS, AGENCY_STATUSES, LEGAL_ENTITIES


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


class KeyForm(FlaskForm):
    public_key = StringField("Public key (age1… or ssh-ed25519 …)", validators=[DataRequired(), Length(max=400)])
    label = StringField("Label", validators=[Length(max=100)])
