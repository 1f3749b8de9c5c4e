"""The app's settings, read when first used (docs: goodwill.django)."""

from __future__ import annotations

import os
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from goodwill import Client, Key, keyfile


def node_url() -> str:
    url = getattr(settings, "GOODWILL_NODE_URL", None)
    if not url:
        raise ImproperlyConfigured("GOODWILL_NODE_URL is not set: a main node's HTTP address, http://HOST:PORT")
    return url


def finality() -> bool:
    return bool(getattr(settings, "GOODWILL_FINALITY", True))


@lru_cache(maxsize=None)
def _client(url: str) -> Client:
    return Client(url)


def client() -> Client:
    """The client of GOODWILL_NODE_URL (one per process)."""
    return _client(node_url())


@lru_cache(maxsize=None)
def _key(path: str, env: str) -> Key:
    with open(path, "rb") as f:
        sealed = b"secret_sealed" in f.read(4096)
    passphrase = os.environ.get(env) if sealed else None
    if sealed and not passphrase:
        raise ImproperlyConfigured(f"{path} is sealed: put its passphrase in the environment variable {env}")
    return keyfile.read(path, passphrase)


def key() -> Key:
    """The app's key (GOODWILL_KEY_FILE): it receives payments and signs
    records."""
    path = getattr(settings, "GOODWILL_KEY_FILE", None)
    if not path:
        raise ImproperlyConfigured("GOODWILL_KEY_FILE is not set: the app's key file (goodwill keygen --out FILE)")
    return _key(os.fspath(path), getattr(settings, "GOODWILL_PASSPHRASE_ENV", "GOODWILL_PASSPHRASE"))
