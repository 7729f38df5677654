"""What leaves the building: one disclosure record for a production to an agency, an emergency
disclosure, a referral and an NCMEC report alike, with a row for each evidence item that left.

This package sits below the features that disclose (requests; referrals, NCMEC reports and
packages later) and above evidence and agencies: it imports no feature that uses it.
"""
