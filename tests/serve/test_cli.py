"""`goodwill serve`, `brief` and `token` from the command line, and `forward` to a running server.

DuckDB lets one process hold a file, so these use a DuckDB file of their own (not the two-engine
fixture): while `goodwill serve` holds it, `brief`, `token` and `status` must go through the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serve.conftest import ALICE, ALICE_SAYS, seed_people

from goodwill.errors import ConfigError, StoreLockedError
from goodwill.serve import verify_token
from goodwill.serve.client import ServerError, find_server, forward
from goodwill.store import open_store

SECRET = "cli-tests-secret-of-32-characters!!!"


def goodwill(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOODWILL_SECRET": SECRET, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "goodwill", *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    path = str(tmp_path / "cli.duckdb")
    with open_store(path) as s:
        seed_people(s)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(store_path: str) -> Iterator[dict[str, Any]]:
    port = free_port()
    env = {**os.environ, "GOODWILL_SECRET": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "goodwill", "serve", "--store", store_path, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError("goodwill serve exited: " + (proc.stdout.read() if proc.stdout else ""))
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200 and find_server(store_path):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("goodwill serve did not start in 90 s")
        info = find_server(store_path)
        assert info is not None
        yield {"proc": proc, "port": port, "info": info}
    finally:
        proc.terminate()
        proc.wait(20)
        if proc.stdout:
            proc.stdout.close()


def test_brief_and_token_without_a_server(store_path: str) -> None:
    r = goodwill("brief", ALICE, "--store", store_path, "--json")
    assert r.returncode == 0, r.stderr
    b = json.loads(r.stdout)
    assert b["customer_id"] == ALICE and b["customer"]["vulnerable"] is True
    assert b["recent"][0]["text"] == ALICE_SAYS
    text = goodwill("brief", ALICE, "--store", store_path)
    assert text.returncode == 0
    assert "In vulnerable circumstances" in text.stdout and "Promises owed:" in text.stdout
    t = goodwill("token", "agent", "--team", "broadband", "--store", store_path, "--json")
    assert t.returncode == 0, t.stderr
    tok = json.loads(t.stdout)
    who = verify_token(SECRET.encode(), tok["token"])
    assert (who.role, who.team) == ("agent", "broadband")


def test_cli_errors_are_one_line(store_path: str) -> None:
    r = goodwill("brief", "nobody:1", "--store", store_path)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout
    assert "goodwill holds nothing about a customer 'nobody:1'." in r.stderr + r.stdout
    r = goodwill("token", "customer", "--store", store_path)
    assert r.returncode != 0 and "must name the customer" in r.stderr + r.stdout


def test_forward_refuses_without_a_server(store_path: str) -> None:
    with pytest.raises(StoreLockedError, match="no goodwill server is running"):
        forward("status", {}, store_path)
    with pytest.raises(ConfigError, match="cannot go through the server"):
        forward("erase", {}, store_path)


def test_serve_then_brief_token_status_go_through_it(store_path: str, server: dict[str, Any]) -> None:
    info = server["info"]
    assert info["url"] == f"http://127.0.0.1:{server['port']}"
    assert os.stat(info["admin_token_file"]).st_mode & 0o777 == 0o600
    # forward, the library call
    status = forward("status", {}, store_path)
    assert status["tables"]["customers"] == 2
    brief = forward("brief", {"customer_id": ALICE}, store_path)
    assert brief["customer_id"] == ALICE and brief["open_problems"][0]["case_id"] == "c-a1"
    tok = forward("token", {"role": "cx_lead"}, store_path)["token"]
    assert verify_token(SECRET.encode(), tok).role == "cx_lead"
    with pytest.raises(ServerError) as err:
        forward("brief", {"customer_id": "nobody:1"}, store_path)
    assert (err.value.code, err.value.http_status) == ("not_found", 404)
    assert err.value.hint == "Check the id (e.g. cfpb:1234567 or telco:0019-EFAEP)."
    # the commands, which find the store held and ask the server
    r = goodwill("brief", ALICE, "--store", store_path, "--json")
    assert r.returncode == 0, r.stderr
    via_cli = json.loads(r.stdout)
    assert via_cli.pop("as_of") >= brief.pop("as_of")  # the server's clock, a moment later
    assert via_cli == brief
    r = goodwill("token", "agent", "--team", "field", "--store", store_path, "--json")
    assert r.returncode == 0, r.stderr
    assert verify_token(SECRET.encode(), json.loads(r.stdout)["token"]).team == "field"
    r = goodwill("status", "--store", store_path, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["tables"]["customers"] == 2
    # Ctrl-C stops it and takes the announcement and the admin token with it.
    server["proc"].send_signal(signal.SIGINT)
    server["proc"].wait(20)
    assert find_server(store_path) is None
    assert not (Path(store_path).parent / "server.json").exists()
    assert not Path(info["admin_token_file"]).exists()


def test_sigterm_also_takes_the_announcement_with_it(store_path: str, server: dict[str, Any]) -> None:
    info = server["info"]
    assert (Path(store_path).parent / "server.json").exists()
    server["proc"].send_signal(signal.SIGTERM)
    server["proc"].wait(20)
    assert find_server(store_path) is None
    assert not (Path(store_path).parent / "server.json").exists()
    assert not Path(info["admin_token_file"]).exists()
