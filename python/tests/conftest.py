"""What the tests share: the repository's vectors and the `goodwill` binary
(GOODWILL_BIN, else target/debug/goodwill or target/release/goodwill of
this repository). Under CI a missing binary fails the tests that need it."""

import json
import os
import pathlib

import pytest

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
