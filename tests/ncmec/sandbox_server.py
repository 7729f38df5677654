"""The CyberTipline sandbox on a loopback port, in a thread: the client talks real HTTP."""

from __future__ import annotations

import threading

from werkzeug.serving import make_server

from referrals.ncmec.sandbox import SANDBOX_PREFIX, STATE, sandbox_app
from tests.browser.live_server import free_port

USERNAME, PASSWORD = "sandbox-user", "sandbox-pass-synthetic"


class SandboxServer:
    def __init__(self):
        self.server = make_server("127.0.0.1", free_port(), sandbox_app(USERNAME, PASSWORD),
                                  threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.state = STATE

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{SANDBOX_PREFIX}"

    def start(self) -> SandboxServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)
