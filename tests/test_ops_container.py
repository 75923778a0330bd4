"""The container definition: Dockerfile, .dockerignore, compose.yaml (no Docker engine
here: these read the files and run the pieces that can run without one)."""

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def healthcheck_command() -> list[str]:
    match = re.search(r"HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])", DOCKERFILE)
    assert match, "no HEALTHCHECK ... CMD [...] in the Dockerfile"
    return json.loads(match.group(1))


class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.paths.append(self.path)
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_container_healthcheck_asks_healthz_on_the_port_from_PORT():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    server.paths = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    command = healthcheck_command()
    assert command[0] == "python"
    try:
        up = subprocess.run(
            [sys.executable, *command[1:]], env={"PORT": str(port)}, timeout=10, check=False
        )
    finally:
        server.shutdown()
        server.server_close()
    down = subprocess.run(
        [sys.executable, *command[1:]], env={"PORT": str(port)}, timeout=10, capture_output=True
    )

    assert up.returncode == 0
    assert server.paths == ["/healthz"]
    assert down.returncode != 0
