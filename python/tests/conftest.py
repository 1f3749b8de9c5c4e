"""What the tests share: the repository's vectors and the `goodwill` binary
(GOODWILL_BIN, else target/debug/goodwill or target/release/goodwill of
this repository). Under CI a missing binary fails the tests that need it."""

import json
import os
import pathlib
import signal
import subprocess
import time

import pytest

from goodwill import Client, Unreachable, keyfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def vectors():
    return json.loads((ROOT / "tests/vectors/encodings.json").read_text())


@pytest.fixture(scope="session")
def keyfile_vectors():
    return json.loads((ROOT / "tests/vectors/keyfiles.json").read_text())["vectors"]


@pytest.fixture(scope="session")
def goodwill_bin():
    given = os.environ.get("GOODWILL_BIN")
    candidates = [pathlib.Path(given)] if given else [ROOT / "target/debug/goodwill", ROOT / "target/release/goodwill"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    why = f"no goodwill binary at {', '.join(map(str, candidates))} (cargo build, or set GOODWILL_BIN)"
    if os.environ.get("CI"):
        pytest.fail(why)
    pytest.skip(why)


@pytest.fixture(scope="session")
def devnet(goodwill_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("devnet")
    log = open(d / "devnet.log", "w+")
    p = subprocess.Popen([goodwill_bin, "devnet", "--dir", str(d / "net"), "--slot-ms", "300"],
                         stdout=log, stderr=subprocess.STDOUT, cwd=d, start_new_session=True)
    url = node = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (url and node):
        text = (d / "devnet.log").read_text()
        for line in text.splitlines():
            if line.startswith("explorer: http://") and url is None:
                url = line.split()[1].rstrip("/")
            if line.startswith("main-1: main node on "):
                node = line.split()[4]
        if p.poll() is not None:
            pytest.fail(f"the devnet exited:\n{text}")
        time.sleep(0.1)
    if not url:
        p.kill()
        pytest.fail("the devnet printed no explorer address in 120 s")
    c = Client(url)
    for _ in range(600):
        try:
            if c.status()["height"] >= 1:
                break
        except Unreachable:
            pass
        time.sleep(0.1)
    yield {"url": url, "node": node, "dir": d / "net", "proc": p}
    c.close()
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
    log.close()


def key(devnet, name):
    """A devnet key by name (alice, bob, forger-1…): `from conftest import key`."""
    return keyfile.read(devnet["dir"] / "keys" / f"{name}.key")


@pytest.fixture
def client(devnet):
    with Client(devnet["url"]) as c:
        yield c
