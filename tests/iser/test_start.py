"""Without RDMA (no pyverbs or no device) hptd starts its TCP portals and says why iSER is unavailable."""

from __future__ import annotations

import importlib.util
import logging
import socket

import pytest

from hpt.daemon.config import parse_config
from hpt.daemon.server import Server
from hpt.iser.verbs import IserUnavailable, load
from tests.integration.hptd import free_port


@pytest.mark.skipif(importlib.util.find_spec("pyverbs") is not None, reason="pyverbs is installed here")
def test_load_without_pyverbs_names_the_package() -> None:
    with pytest.raises(IserUnavailable, match="python3-pyverbs"):
        load()


def test_tcp_portal_runs_when_the_iser_portal_cannot(caplog: pytest.LogCaptureFixture) -> None:
    port, iser_port = free_port(), free_port()
    config = parse_config(f"""
[[portal]]
address = "127.0.0.1:{port}"

[[portal]]
address = "127.0.0.1:{iser_port}"
transport = "iser"

[[target]]
name = "iqn.2026-11.org.hpt.test:iser"
  [[target.lun]]
  lun = 1
  store = "null"
  size = "1M"
""")
    server = Server(config)
    with caplog.at_level(logging.INFO, logger="hpt"):
        server.start()
    try:
        messages = [r.getMessage() for r in caplog.records]
        assert any("iSER portal unavailable:" in m for m in messages), messages
        assert len(server.portals) == 1
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        server.stop()
