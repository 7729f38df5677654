"""The forms of the package pages."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import NumberRange, Optional

from referrals.packages.services import MAX_DOWNLOADS, MAX_EXPIRY_DAYS


class LimitsForm(FlaskForm):
    """How long and how many times the package may be downloaded (empty: the settings)."""

    expiry_days = IntegerField("Days it can be downloaded", validators=[
        Optional(), NumberRange(1, MAX_EXPIRY_DAYS, f"Choose 1 to {MAX_EXPIRY_DAYS} days.")])
    download_limit = IntegerField("Downloads allowed", validators=[
        Optional(), NumberRange(1, MAX_DOWNLOADS, f"Choose 1 to {MAX_DOWNLOADS} downloads.")])


class CasePackageForm(LimitsForm):
    recipient = StringField("Recipient's public key (age1… or ssh-ed25519 …; empty: a one-time key)",
                            validators=[Optional()])
