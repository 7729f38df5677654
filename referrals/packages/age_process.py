"""The package's age encryption, in a process of its own: plaintext on standard input,
the age file on standard output, the recipients as arguments.

Why a process: pyrage's ``encrypt_io`` holds the GIL for the whole encryption (it calls
back into Python to read and write, and never lets go in between), so no thread of the
building process can hash, decrypt or write while it runs: the two cores took turns and a
1 GiB build took 3.7 times as long as ``age -r``. In a process of its own it has a core to
itself while the builder's threads (store, hashes, tar; the encrypted file's hash) run on
the other. See ``builder.py``.

Run by the builder as ``python -P age_process.py RECIPIENT…``, never imported by the app
(so it starts in a few milliseconds: only pyrage is loaded). The recipients were checked by
``recipients.parse_recipient`` before; the same two constructors read them here. Nothing is
written anywhere but standard output, which is the package's temporary file (on a directory
shelf) or a pipe back to the builder. A builder that dies closes this process's input: it
ends, on a broken pipe, or having encrypted a cut tar into a temporary file that nothing
will rename and the package sweep removes.
"""

from __future__ import annotations

import sys

import pyrage

# pyrage reads 8 KiB at a time: from a 1 MiB buffer, each read is a copy, not a system call;
# its 64 KiB encrypted chunks go out in 1 MiB writes.
BUFFER = 1024 * 1024


def _recipient(text: str):
    if text.startswith("age1"):
        return pyrage.x25519.Recipient.from_str(text)
    return pyrage.ssh.Recipient.from_str(text)


def main(arguments: list[str]) -> int:
    if not arguments:
        sys.stderr.write("age_process: no recipient given\n")
        return 2
    try:
        recipients = [_recipient(text) for text in arguments]
    except pyrage.RecipientError as error:
        sys.stderr.write(f"age_process: a recipient is not valid ({error})\n")
        return 2
    with open(0, "rb", buffering=BUFFER, closefd=False) as plaintext, \
            open(1, "wb", buffering=BUFFER, closefd=False) as encrypted:
        pyrage.encrypt_io(plaintext, encrypted, recipients)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
