"""WTForms' attribute writer replaced by a faster one that writes the same bytes."""

from markupsafe import Markup
from wtforms import Form, SelectField, StringField, SubmitField, TextAreaField
from wtforms import widgets
from wtforms.validators import DataRequired, Length
from wtforms.widgets import core as widgets_core

from referrals.core.form_html import WTFORMS_HTML_PARAMS, html_params

CASES = [
    {},
    {"name": "value", "id": "value-7", "type": "text", "value": "a\"b<c>&'d"},
    {"class_": "wide", "for_": "x", "data_user_name": "u", "aria_described_by": "h"},
    {"checked": True, "readonly": False, "required": True, "disabled": False},
    {"value": Markup('raw "quoted" <b>markup</b>')},
    {"maxlength": 320, "min": 0, "step": 1.5, "value": None},
    {"placeholder": "What happened, what you did, what is next", "rows": 3},
    {"title": "ünïcödé — dash", "value": ""},
    {"weird<key": "v", "a&b": True},
]


def test_html_params_writes_what_wtforms_writes():
    for attributes in CASES:
        ours, theirs = html_params(**attributes), WTFORMS_HTML_PARAMS(**attributes)
        assert ours == theirs, attributes
        assert isinstance(ours, Markup)


class _Sample(Form):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=[("a", "A & a"), ("b", 'B "b"')])
    body = TextAreaField("Body")
    go = SubmitField("Go")


def _render(form):
    return "".join(str(f(**{"class_": "x"})) + str(f.label()) for f in form)


def test_the_app_renders_forms_with_it_and_the_same_html(app, monkeypatch):
    # The app factory installed it everywhere WTForms looks the writer up.
    assert widgets_core.html_params is html_params
    assert widgets.html_params is html_params
    assert widgets_core.Input.html_params is html_params
    assert widgets_core.Button.html_params is html_params
    form = _Sample(data={"title": 'He said "hi" <there>', "kind": "b", "body": "x"})
    ours = _render(form)
    for place, name in ((widgets_core, "html_params"), (widgets, "html_params")):
        monkeypatch.setattr(place, name, WTFORMS_HTML_PARAMS)
    for widget in (widgets_core.Input, widgets_core.Button):
        monkeypatch.setattr(widget, "html_params", staticmethod(WTFORMS_HTML_PARAMS))
    assert _render(form) == ours
    assert 'value="He said &#34;hi&#34; &lt;there&gt;"' in ours and "required" in ours
