"""Multi-step remote work: an operation on a remote service (a webhook delivery, and later
the NCMEC report lifecycle), its steps, and what each step's call came back with, kept in the
database so that a crash resumes at the next step and a call that may have happened remotely
is never blindly made again. See ``referrals.remote.operations``."""
