from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, DateTimeLocalField, IntegerField, SelectField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from referrals.cases import rules
from referrals.vocabulary.identifiers import KINDS
from referrals.vocabulary.categories import DATA_CATEGORIES

SUBJECT_ROLES = [("account", "Account"), ("suspect", "Suspect"), ("victim", "Victim"),
                 ("witness", "Witness"), ("other", "Other")]


class NewCaseForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    category = SelectField("Category", choices=list(rules.CATEGORIES.items()))
    priority = SelectField("Priority", choices=[
        (name, f"{name} — {meaning}") for name, (meaning, _) in rules.PRIORITIES.items()])
    summary = TextAreaField("Summary", validators=[Length(max=20000)])


class NoteForm(FlaskForm):
    body = TextAreaField("Note", validators=[DataRequired("Write the note first."),
                                             Length(max=20000)])


class StatusForm(FlaskForm):
    # No move is preselected: one stray click must not change a case's status.
    status = SelectField("Move to", choices=[("", "Choose…"), *rules.STATUSES.items()],
                         validators=[DataRequired(message="Choose the status to move the case to.")])
    note = StringField("Why (optional)", validators=[Length(max=2000)])


class AssignForm(FlaskForm):
    assignee_id = SelectField("Assign to", coerce=int)


class DueForm(FlaskForm):
    due_at = DateTimeLocalField("Due", format="%Y-%m-%dT%H:%M", validators=[Optional()])


class SubjectForm(FlaskForm):
    label = StringField("Name or handle", validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=SUBJECT_ROLES)


class IdentifierForm(FlaskForm):
    kind = SelectField("Type", choices=list(KINDS.items()))
    value = StringField("Value", validators=[DataRequired(), Length(max=320)])
    observed_at = DateTimeLocalField("Seen at (IP only)", format="%Y-%m-%dT%H:%M",
                                     validators=[Optional()])
    port = IntegerField("Port (IP only)", validators=[Optional(), NumberRange(0, 65535)])


class IdentifierCorrectionForm(FlaskForm):
    """Correct an identifier (kind and value) or remove it (``action``), with the reason."""
    kind = SelectField("Type", choices=list(KINDS.items()))
    value = StringField("Value", validators=[Length(max=320)])
    reason = StringField("Why", validators=[DataRequired("Say why: the reason stays on the "
                                                        "case's timeline."), Length(max=2000)])
    action = StringField()


class SubjectCorrectionForm(FlaskForm):
    """Correct a subject (name, role) or remove it with its identifiers (``action``)."""
    label = StringField("Name or handle", validators=[Length(max=200)])
    role = SelectField("Role", choices=SUBJECT_ROLES)
    reason = StringField("Why", validators=[DataRequired("Say why: the reason stays on the "
                                                        "case's timeline."), Length(max=2000)])
    action = StringField()


class EvidenceForm(FlaskForm):
    file = FileField("File", validators=[FileRequired("Choose a file.")])
    description = StringField("Description", validators=[Length(max=2000)])
    # Uploads are most often content (a screenshot, a file someone posted): the default.
    data_category = SelectField("Data category", choices=list(DATA_CATEGORIES.items()),
                                default="content", validate_choice=False)  # the service says it plainly
    may_be_csam = BooleanField("This may be child sexual abuse material")
