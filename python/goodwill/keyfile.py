"""Key files, as `goodwill keygen` writes them and every `--key` reads them:
plain, or sealed with a passphrase (argon2id, XChaCha20-Poly1305).
docs/keyfile.md is the format; tests/vectors/keyfiles.json its examples."""

from __future__ import annotations

import os
import stat
import sys

from argon2.low_level import Type, hash_secret_raw
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

from .errors import InvalidAddress, KeyFileError, WrongPassphrase
from .keys import Key, parse_address

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: The largest key file read.
MAX_BYTES = 4096
#: What `goodwill keygen --encrypt` uses: 64 MiB, 3 passes, 1 lane.
KDF_M_KIB, KDF_T, KDF_P = 65536, 3, 1

_PLAIN = {"address", "secret"}
_SEALED = {"address", "kdf", "kdf_m_kib", "kdf_t", "kdf_p", "salt", "cipher", "nonce", "secret_sealed"}


def _hex(name: str, text: object, n: int, path: str) -> bytes:
    if not isinstance(text, str) or len(text) != 2 * n:
        raise KeyFileError(f"{path}: {name} must be {2 * n} hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise KeyFileError(f"{path}: {name} is not hex") from None


def _int(name: str, v: object, path: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < 0 or v > 0xFFFFFFFF:
        raise KeyFileError(f"{path}: {name} must be a whole number below 2^32")
    return v


def check_kdf(m_kib: int, t: int, p: int) -> None:
    """Refuses KDF costs outside the bounds the Rust side accepts, before
    running it (a file must not make a reader spend unbounded memory)."""
    if not 1 <= p <= 16:
        raise KeyFileError(f"kdf_p {p} is outside 1-16")
    if m_kib < 8 * p or m_kib > 1_048_576:
        raise KeyFileError(f"kdf_m_kib {m_kib} is outside {8 * p}-1048576")
    if not 1 <= t <= 64:
        raise KeyFileError(f"kdf_t {t} is outside 1-64")
    if m_kib * t > 4_194_304:
        raise KeyFileError(f"kdf_m_kib x kdf_t is {m_kib * t}, above 4194304")


def derive_key(passphrase: bytes, salt: bytes, m_kib: int, t: int, p: int) -> bytes:
    """argon2id (version 0x13) of the passphrase: 32 bytes."""
    check_kdf(m_kib, t, p)
    return hash_secret_raw(passphrase, salt, time_cost=t, memory_cost=m_kib, parallelism=p,
                           hash_len=32, type=Type.ID, version=19)


def associated_data(public_key: bytes, m_kib: int, t: int, p: int, salt: bytes) -> bytes:
    """What the seal's tag also covers: every field of the file."""

    def tagged(s: str) -> bytes:
        return bytes([len(s)]) + s.encode()

    le = lambda n: n.to_bytes(4, "little")  # noqa: E731
    return (tagged("goodwill/keyfile/v1") + public_key + tagged("argon2id") + le(m_kib) + le(t) + le(p)
            + salt + tagged("xchacha20poly1305"))


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    b = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
    if not b:
        raise KeyFileError("an empty passphrase is refused")
    return b


def parse(text: str, passphrase: str | bytes | None = None, path: str = "key file") -> Key:
    """The key a key file's text holds; a sealed one needs `passphrase`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise KeyFileError(f"{path}: not a key file (not TOML: {e})") from None
    fields = set(doc)
    if "secret" in fields:
        want = _PLAIN
    elif "secret_sealed" in fields:
        want = _SEALED
    else:
        raise KeyFileError(f"{path}: not a key file (neither secret nor secret_sealed)")
    if fields != want:
        extra, missing = sorted(fields - want), sorted(want - fields)
        raise KeyFileError(f"{path}: unknown fields {extra}, missing fields {missing}")
    try:
        public = parse_address(doc["address"])
    except InvalidAddress as e:
        raise KeyFileError(f"{path}: address: {e}") from None
    if "secret" in doc:
        key = Key(_hex("secret", doc["secret"], 32, path))
    else:
        if doc["kdf"] != "argon2id":
            raise KeyFileError(f"{path}: kdf {doc['kdf']!r} is not supported (only argon2id)")
        if doc["cipher"] != "xchacha20poly1305":
            raise KeyFileError(f"{path}: cipher {doc['cipher']!r} is not supported (only xchacha20poly1305)")
        m, t, p = (_int(n, doc[n], path) for n in ("kdf_m_kib", "kdf_t", "kdf_p"))
        salt = _hex("salt", doc["salt"], 16, path)
        nonce = _hex("nonce", doc["nonce"], 24, path)
        sealed = _hex("secret_sealed", doc["secret_sealed"], 48, path)
        if passphrase is None:
            raise KeyFileError(f"{path} is sealed with a passphrase: give it")
        try:
            check_kdf(m, t, p)
        except KeyFileError as e:
            raise KeyFileError(f"{path}: {e}") from None
        k = derive_key(_passphrase_bytes(passphrase), salt, m, t, p)
        try:
            seed = crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, associated_data(public, m, t, p, salt), nonce, k)
        except CryptoError:
            raise WrongPassphrase(
                f"{path} does not open: a wrong passphrase, or the file was changed since it was sealed"
            ) from None
        key = Key(seed)
    if key.public_key != public:
        raise KeyFileError(f"{path}: its secret is the key of {key.address}, not of {doc['address']}")
    return key


def read(path: str | os.PathLike[str], passphrase: str | bytes | None = None) -> Key:
    """Reads a key file (at most 4,096 bytes; refused when group or others
    may read it, as the Rust side refuses it)."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise KeyFileError(f"{p}: {e.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise KeyFileError(f"{p}: over {MAX_BYTES} bytes: not a key file")
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise KeyFileError(f"{p}: not UTF-8: not a key file") from None
    key = parse(text, passphrase, p)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{p}: group or others may read it (mode {stat.S_IMODE(mode):o}): chmod 600 {p}")
    return key


def to_text(key: Key, passphrase: str | bytes | None = None, *, salt: bytes | None = None,
            nonce: bytes | None = None, kdf: tuple[int, int, int] = (KDF_M_KIB, KDF_T, KDF_P)) -> str:
    """A key file's text: plain, or sealed with `passphrase` (random salt
    and nonce unless given: the vectors give them)."""
    if passphrase is None:
        return ("# goodwill secret key — whoever reads this file can sign as its address.\n"
                f'address = "{key.address}"\nsecret = "{key.seed.hex()}"\n')
    m, t, p = kdf
    salt = os.urandom(16) if salt is None else salt
    nonce = os.urandom(24) if nonce is None else nonce
    k = derive_key(_passphrase_bytes(passphrase), salt, m, t, p)
    sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(key.seed, associated_data(key.public_key, m, t, p, salt),
                                                        nonce, k)
    return ("# goodwill secret key, sealed with a passphrase (argon2id, XChaCha20-Poly1305).\n"
            f'address = "{key.address}"\nkdf = "argon2id"\nkdf_m_kib = {m}\nkdf_t = {t}\nkdf_p = {p}\n'
            f'salt = "{salt.hex()}"\ncipher = "xchacha20poly1305"\nnonce = "{nonce.hex()}"\n'
            f'secret_sealed = "{sealed.hex()}"\n')


def write(path: str | os.PathLike[str], key: Key, passphrase: str | bytes | None = None) -> None:
    """Writes a key file with mode 0600, never over an existing file."""
    p = os.fspath(path)
    text = to_text(key, passphrase)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{p} exists: a key file is never overwritten") from None
    except OSError as e:
        raise KeyFileError(f"{p}: {e.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
