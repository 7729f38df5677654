"""Referrals to agencies on our own initiative: drafted from a case, approved by a second
person, sent (by hand, or through NCMEC's report of the case), acknowledged with the agency's
reference; each sent referral is a disclosure record."""
