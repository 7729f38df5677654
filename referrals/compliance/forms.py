"""The compliance pages' inputs: the disclosure log's filters (a GET form) and the QA forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from referrals.compliance.disclosure_log import DisclosureFilters
from referrals.core.errors import InvalidInput
from referrals.disclosures.models import DISCLOSURE_KINDS
from referrals.disclosures.qa_models import FINDING_CATEGORIES


class DisclosureFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a search: it changes nothing

    kind = SelectField("Kind", choices=[("", "Any kind"), *DISCLOSURE_KINDS.items()],
                       validators=[Optional()])
    agency_id = SelectField("Recipient", choices=[("", "Any recipient")], validators=[Optional()])
    country = StringField("Country", validators=[Optional(), Length(min=2, max=2)],
                          description="Two-letter ISO code, e.g. US")
    date_from = DateField("Released from", validators=[Optional()])
    date_to = DateField("Released until", validators=[Optional()])
    legal_basis = StringField("Legal basis contains", validators=[Optional(), Length(max=200)])

    def filters(self) -> DisclosureFilters:
        """The filters, or a refusal naming the first field that is wrong."""
        if not self.validate():
            field, messages = next(iter(self.errors.items()))
            label = getattr(self, field).label.text
            raise InvalidInput(f"{label}: {messages[0]}", field=field)
        agency = self.agency_id.data
        return DisclosureFilters(
            kind=self.kind.data or "", agency_id=int(agency) if agency else None,
            country=(self.country.data or "").strip().upper(), date_from=self.date_from.data,
            date_to=self.date_to.data, legal_basis=(self.legal_basis.data or "").strip())


class FindingForm(FlaskForm):
    category = SelectField("Finding", choices=list(FINDING_CATEGORIES.items()),
                           validators=[DataRequired()])
    notes = TextAreaField("Notes", validators=[DataRequired(message="Say what you found."),
                                               Length(max=4000)])


class AssignFindingForm(FlaskForm):
    assignee_id = SelectField("Assign to", choices=[], validators=[DataRequired()])


class RespondFindingForm(FlaskForm):
    response = TextAreaField("Response", validators=[DataRequired(message="Write the response."),
                                                     Length(max=4000)])


class CloseFindingForm(FlaskForm):
    resolution = TextAreaField("Resolution", validators=[
        DataRequired(message="Say how the finding was resolved."), Length(max=4000)])
