"""The package's age encryption, in a process of its own: plaintext on standard input,
the age file on standard output, the recipients as arguments. It also hashes what it
writes: its last line on standard error, once all is written, is ``REPORT`` with the
output's SHA-256 and size (what the builder puts in the ``.sha256``).

Why a process: pyrage's ``encrypt_io`` holds the GIL for the whole encryption (it calls
back into Python to read and write, and never lets go in between), so no thread of the
building process can hash, decrypt or write while it runs: the two cores took turns and a
1 GiB build took 3.7 times as long as ``age -r``. In a process of its own it has a core to
itself while the builder's thread (store, intake hash, tar) runs on the other.

Why the output's hash is taken here and not by the builder reading the file back: a
second thread in the builder, hashing beside the one that writes the tar, made the two
take turns for the GIL and the three workers fight for two cores (measured: a 1 GiB build
3.0-3.4 s beside age's 1.7). Here the hash runs in the encrypting thread, on bytes it
holds anyway, and the builder is left one busy thread (see ``builder.py``).

Run by the builder as ``python -P age_process.py RECIPIENT…`` (so it starts in a few
milliseconds: only pyrage and hashlib are loaded); the builder imports it only to read
``REPORT``. The recipients
were checked by ``recipients.parse_recipient`` before; the same two constructors read them
here. Nothing is written anywhere but standard output, which is the package's temporary
file (on a directory shelf) or a pipe back to the builder, and the report on standard
error. A builder that dies closes this process's input: it ends, on a broken pipe, or
having encrypted a cut tar into a temporary file that nothing will rename and the package
sweep removes.
"""

from __future__ import annotations

import hashlib
import sys

import pyrage

# pyrage reads 8 KiB at a time: from a 1 MiB buffer, each read is a copy, not a system call;
# its 64 KiB encrypted chunks go out in 1 MiB writes.
BUFFER = 1024 * 1024
# The report's first word; the builder reads ``REPORT <sha256 hex> <size>``.
REPORT = "encrypted"


class HashedOutput:
    """What pyrage writes to: each piece is hashed, counted, and handed to ``raw``."""

    def __init__(self, raw):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


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
        output = HashedOutput(encrypted)
        pyrage.encrypt_io(plaintext, output, recipients)
    # Only now, all of it written (the buffer flushed as the file closed): the report.
    sys.stderr.write(f"{REPORT} {output.sha256.hexdigest()} {output.size}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
