"""Key files: the documented vectors in both directions, and files the
`goodwill` binary writes and reads, both ways."""

import os
import re
import subprocess

import pytest

from goodwill import Key, KeyFileError, WrongPassphrase, keyfile


def test_the_vectors_read_back_and_write_exactly(keyfile_vectors, tmp_path):
    for v in keyfile_vectors:
        pw = v.get("passphrase")
        k = keyfile.parse(v["file"], pw)
        assert k.seed.hex() == v["seed"], v["name"]
        assert k.address == v["address"], v["name"]
        if pw is None:
            assert keyfile.to_text(k) == v["file"]
        else:
            doc = {line.split(" = ")[0]: line.split(" = ")[1].strip('"') for line in v["file"].splitlines()[1:]}
            text = keyfile.to_text(
                k, pw, salt=bytes.fromhex(doc["salt"]), nonce=bytes.fromhex(doc["nonce"]),
                kdf=(int(doc["kdf_m_kib"]), int(doc["kdf_t"]), int(doc["kdf_p"])))
            assert text == v["file"], v["name"]
            with pytest.raises(WrongPassphrase):
                keyfile.parse(v["file"], pw + "x")


def test_refusals_name_what_is_wrong(keyfile_vectors, tmp_path):
    plain = keyfile_vectors[0]["file"]
    with pytest.raises(KeyFileError, match="unknown fields"):
        keyfile.parse(plain + 'extra = "1"\n')
    with pytest.raises(KeyFileError, match="not the key of|secret is the key of"):
        keyfile.parse(plain.replace("0303", "0404", 1).replace("03030303", "04040404"))
    sealed = next(v for v in keyfile_vectors if v.get("passphrase"))
    with pytest.raises(KeyFileError, match="give it"):
        keyfile.parse(sealed["file"])
    with pytest.raises(KeyFileError, match="kdf_m_kib"):
        keyfile.parse(re.sub(r"kdf_m_kib = \d+", "kdf_m_kib = 2000000", sealed["file"]), "pw")
    path = tmp_path / "k.key"
    keyfile.write(path, Key.generate())
    assert (os.stat(path).st_mode & 0o777) == 0o600
    with pytest.raises(KeyFileError, match="never overwritten"):
        keyfile.write(path, Key.generate())
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        keyfile.read(path)


def run(binary, *args, env=None, cwd=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([binary, *args], capture_output=True, text=True, env=e, cwd=cwd, timeout=120)


def test_the_binary_reads_what_python_writes_and_the_other_way(goodwill_bin, tmp_path):
    # Python writes, plain and sealed; the binary reads the address, and
    # with a verb that needs the secret, opens the sealed one (and refuses
    # it with another passphrase) before it would reach a node.
    k = Key.generate()
    plain, sealed = tmp_path / "p.key", tmp_path / "s.key"
    keyfile.write(plain, k)
    keyfile.write(sealed, k, "a passphrase")
    for f in (plain, sealed):
        out = run(goodwill_bin, "address", "--key", str(f))
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == k.address
    send = ["wallet", "send", "--key", str(sealed), "--to", k.address, "--amount", "1", "--node", "127.0.0.1:9"]
    wrong = run(goodwill_bin, *send, env={"GOODWILL_PASSPHRASE": "not it"})
    assert wrong.returncode != 0 and "passphrase" in wrong.stderr, wrong.stderr
    right = run(goodwill_bin, *send, env={"GOODWILL_PASSPHRASE": "a passphrase"})
    assert right.returncode != 0 and "passphrase" not in right.stderr, right.stderr

    # The binary writes, plain and sealed; Python reads the same key.
    out = run(goodwill_bin, "keygen", "--out", "b.key", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert keyfile.read(tmp_path / "b.key").address in out.stdout
    out = run(goodwill_bin, "keygen", "--out", "bs.key", "--encrypt", "--kdf-memory-kib", "8192", "--kdf-iterations", "1",
              cwd=tmp_path, env={"GOODWILL_PASSPHRASE": "sealed by rust"})
    assert out.returncode == 0, out.stderr
    k2 = keyfile.read(tmp_path / "bs.key", "sealed by rust")
    assert k2.address in out.stdout
    with pytest.raises(WrongPassphrase):
        keyfile.read(tmp_path / "bs.key", "sealed by python")
