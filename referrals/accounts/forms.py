from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from referrals.core.identity import STAFF_ROLES

ROLE_CHOICES = [(name, name.capitalize()) for name in STAFF_ROLES]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class StaffAccessForm(FlaskForm):
    roles = MultiCheckboxField("Roles", choices=ROLE_CHOICES)
    cleared_for_csam = BooleanField(
        "Cleared to view media that may be child sexual abuse material"
    )


class CreateStaffUserForm(StaffAccessForm):
    email = EmailField("Work e-mail", validators=[DataRequired(), Length(max=255)])
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=200)])


class ConfirmForm(FlaskForm):
    """A button: CSRF only."""
