"""A Redis of the stores tests' own, on its own port, which a test may kill and restart."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from stack.services import EmbeddedRedis


@dataclass
class OwnRedis:
    server: EmbeddedRedis
    host: str
    port: int
    password: str

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown, no goodbye to clients."""
        pid = int((self.server.root / "redis.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise RuntimeError("Redis did not die")

    def restart(self) -> None:
        self.server.start(same_port=True)


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnRedis]:
    root: Path = tmp_path_factory.mktemp("own-redis")
    server = EmbeddedRedis(root)
    url = urlsplit(server.start())
    try:
        yield OwnRedis(server, url.hostname or "127.0.0.1", int(url.port or 0), url.password or "")
    finally:
        server.stop()
