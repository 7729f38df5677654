"""One evidence upload through the API, in its own process (bench.uploads runs them).

``python -m bench.upload_child upload FILE REFERENCE TOKEN GO_FILE MIB_PER_S``: start the app,
say it is ready (``GO_FILE.ready-…``), wait for GO_FILE to exist, then POST the file as the body
of ``/api/v1/cases/REFERENCE/evidence`` through the Flask test client: the whole request (token
check, case, hashing and encryption, the rows, custody, audit, commit). The body arrives at
MIB_PER_S, as from a client on a network link (0: as fast as the disk gives it).

Prints one JSON line: bytes, status, and the wall-clock start and end of the request.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

from bench.children import emit


class NetworkBody(io.RawIOBase):
    """The file as a request body that arrives at ``rate`` bytes a second (0: unthrottled)."""

    def __init__(self, handle, rate: float):
        self.handle, self.rate = handle, rate
        self.sent, self.started = 0, None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body by seeking
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def readinto(self, buffer) -> int:
        if self.started is None:
            self.started = time.monotonic()
        n = self.handle.readinto(buffer)
        self.sent += n
        if self.rate:
            ahead = self.sent / self.rate - (time.monotonic() - self.started)
            if ahead > 0:
                time.sleep(ahead)
        return n


def upload(path: Path, reference: str, token: str, go: Path, mib_per_s: float) -> dict:
    from referrals import create_app

    app = create_app()
    client = app.test_client()
    go.with_name(f"{go.name}.ready-{id(app)}").touch()
    deadline = time.monotonic() + 300
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.005)
    with open(path, "rb") as handle:
        body = NetworkBody(handle, mib_per_s * 1024 * 1024)
        started = time.time()
        response = client.post(f"/api/v1/cases/{reference}/evidence?filename={path.name}",
                               input_stream=body,
                               headers={"Authorization": f"Bearer {token}",
                                        "Content-Type": "application/octet-stream"})
        finished = time.time()
    if response.status_code != 201:
        raise SystemExit(f"upload answered {response.status_code}: {response.text[:500]}")
    return {"bytes": response.get_json()["size"], "status": response.status_code,
            "started": started, "finished": finished}


def main() -> None:
    if len(sys.argv) == 7 and sys.argv[1] == "upload":
        emit(upload(Path(sys.argv[2]), sys.argv[3], sys.argv[4], Path(sys.argv[5]),
                    float(sys.argv[6])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
