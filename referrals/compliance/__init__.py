"""Compliance review: the disclosure log, QA sampling of disclosures and the transparency report.

On top of the features it reads (requests, holds, NCMEC reports, packages, disclosures): it
writes nothing of theirs. The QA records themselves live with the disclosure record
(``disclosures.qa``), below the dashboard that counts open findings.
"""
