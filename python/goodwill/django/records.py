"""Data on chain from Django code, signed with the app's key.

    from goodwill.django import records

    records.put("invoice/1042", b"...")           # waits until it is on chain
    rec = records.get(records.address(), "invoice/1042")   # verified, or None
    records.put_hash("doc/7", uploaded_bytes)      # only the SHA-256 goes on chain
    records.store_hash(instance, "body")           # a model field's hash, under "<app>.<model>/<pk>/<field>"
"""

from __future__ import annotations

import hashlib
from typing import Any

from goodwill.client import Included, Record

from . import conf


def address() -> str:
    """The app's address: the owner of the records it writes."""
    return conf.key().address


def put(name: bytes | str, value: bytes | str, wait: bool = True) -> str | Included:
    """Stores `value` under (the app's address, `name`); with `wait`, once
    it is in a block (final, with GOODWILL_FINALITY)."""
    final = wait and conf.finality()
    return conf.client().put_record(conf.key(), name, value, wait=wait and not final, final=final)


def get(owner: str, name: bytes | str) -> Record | None:
    """A record's latest value, its proof checked (ProofInvalid if a node
    lies), or None."""
    return conf.client().get_record(owner, name)


def put_hash(name: bytes | str, data: bytes, wait: bool = True) -> str | Included:
    """Stores the SHA-256 of `data` (32 bytes), not the data."""
    return put(name, hashlib.sha256(data).digest(), wait)


def name_for(instance: Any, field: str) -> str:
    """The record name of a model instance's field."""
    meta = instance._meta
    return f"{meta.app_label}.{meta.model_name}/{instance.pk}/{field}"


def store_hash(instance: Any, field: str, wait: bool = True) -> str | Included:
    """Stores the SHA-256 of a model instance's field on chain."""
    value = getattr(instance, field)
    data = value if isinstance(value, bytes) else str(value).encode()
    return put_hash(name_for(instance, field), data, wait)


def verify_hash(instance: Any, field: str) -> bool:
    """Whether the field's value still hashes to what is on chain."""
    rec = get(address(), name_for(instance, field))
    if rec is None:
        return False
    value = getattr(instance, field)
    data = value if isinstance(value, bytes) else str(value).encode()
    return rec.value == hashlib.sha256(data).digest()
