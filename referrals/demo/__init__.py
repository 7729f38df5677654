"""Demo and benchmark data, above every feature: made-up people, agencies, cases, requests
and holds for a try-out (``flask --app referrals demo seed``), and bulk cases for ``make
bench``. Nothing in the features imports it."""
