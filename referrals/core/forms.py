"""Form pieces every feature's pages use."""

from flask_wtf import FlaskForm
from wtforms import DateField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ConfirmForm(FlaskForm):
    """A button: CSRF only."""


class DayField(DateField):
    """A date written YYYY-MM-DD. Anything else is kept as typed (the field shows it again)
    with a message saying how to write it, rather than WTForms' "Not a valid date value"."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            typed = " ".join(valuelist)
            raise ValueError(f"Write the date as year-month-day, e.g. 2026-11-24; "
                             f"\u201c{typed}\u201d is not a date in that form.") from error


class ReasonForm(FlaskForm):
    """An action that needs a reason on the record (a correction, a removal, a flag)."""

    reason = TextAreaField("Reason (kept on the record)",
                           validators=[DataRequired("Say why first."), Length(max=2000)])
