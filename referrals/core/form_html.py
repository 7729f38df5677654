"""WTForms' HTML attribute writer, the same bytes without its per-attribute formatter.

WTForms 3.3 writes each attribute of every label, input, select and option with
``Markup('{k}="{v}"').format(...)``: markupsafe's ``EscapeFormatter``, a full
``string.Formatter`` run per attribute. The case page renders some twenty fields (and their
options) on every view; in its profile that formatter was the largest single cost of the
page's forms, about a tenth of the request's CPU. ``html_params`` below escapes the same way
and writes the same string (``tests/core/test_form_html.py`` compares it with WTForms' own on
every kind of value), by plain string joins.

``install()`` (called once by the app factory) points WTForms' widgets and labels at it.
"""

from __future__ import annotations

from markupsafe import Markup, escape
from wtforms import widgets
from wtforms.widgets import core as widgets_core

WTFORMS_HTML_PARAMS = widgets_core.html_params


def html_params(**kwargs) -> Markup:
    """``wtforms.widgets.html_params``: ``key="value"`` pairs sorted by key, escaped; a True
    value writes the bare key, a False one nothing; ``class_``/``for_`` lose the underscore,
    ``data_``/``aria_`` keys take hyphens."""
    params = []
    for key, value in sorted(kwargs.items()):
        key = widgets_core.clean_key(key)
        if value is True:
            params.append(str(escape(key)))
        elif value is not False:
            # escape() leaves Markup as it is: its raw double quotes must not end the value.
            params.append(f'{escape(key)}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))


def install() -> None:
    """Every place WTForms looks up its attribute writer: the module function (selects,
    options, text areas), the widgets' own static copies (inputs, buttons) and the package's
    re-export (labels)."""
    widgets_core.html_params = html_params
    widgets.html_params = html_params
    widgets_core.Input.html_params = staticmethod(html_params)
    widgets_core.Button.html_params = staticmethod(html_params)
