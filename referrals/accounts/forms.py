from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, StringField
from wtforms.validators import DataRequired, Length

from referrals.core.forms import MultiCheckboxField
from referrals.core.identity import STAFF_ROLES

ROLE_CHOICES = [(name, name.capitalize()) for name in STAFF_ROLES]


class StaffAccessForm(FlaskForm):
    roles = MultiCheckboxField("Roles", choices=ROLE_CHOICES)
    cleared_for_csam = BooleanField(
        "Cleared to view media that may be child sexual abuse material"
    )


class CreateStaffUserForm(StaffAccessForm):
    email = EmailField("Work e-mail", validators=[DataRequired(), Length(max=255)])
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=200)])
