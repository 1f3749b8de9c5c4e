"""A client of a main node's HTTP/JSON API (docs/http.md): reads, records,
payments, contracts, and the chain as it moves. Transactions are built and
signed here (goodwill.tx), so the key never leaves the process; what a node
answers about the chain is checked against the block's signed header
(goodwill.proof) before it is returned."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator
from urllib.parse import quote

import httpx

from . import tx as txm
from .errors import GoodwillError, InvalidAmount
from .keys import Key, parse_address
from .proof import ProofInvalid, check_inclusion

COIN = 1_000_000


class Refused(GoodwillError):
    """The node refused: `status` (HTTP), `reason` (stable, for programs:
    docs/http.md lists them) and `detail` (the node's words)."""

    def __init__(self, status: int, reason: str, detail: str, body: dict | None = None):
        super().__init__(f"the node refused ({status} {reason}): {detail}")
        self.status, self.reason, self.detail, self.body = status, reason, detail, body or {}


class NotFound(Refused):
    """What was asked for is not there (404)."""


class Unreachable(GoodwillError):
    """The node could not be reached, or did not answer in time."""


class TimedOut(GoodwillError):
    """A wait ran out: the transaction may still land."""


def coins(text: str | int | Decimal) -> int:
    """Units of an amount in coins (`"12.5"` → 12,500,000; at most 6
    decimals, 1 GWL = 1,000,000 units)."""
    try:
        d = Decimal(str(text))
    except InvalidOperation:
        raise InvalidAmount(f"{text!r} is not an amount") from None
    units = d * COIN
    if d < 0 or units != units.to_integral_value():
        raise InvalidAmount(f"{text!r}: an amount is not negative and has at most 6 decimals")
    if units > txm.U64_MAX:
        raise InvalidAmount(f"{text!r} is more than any amount")
    return int(units)


def _key_path(name: bytes | str) -> str:
    raw = name.encode() if isinstance(name, str) else bytes(name)
    try:
        text = raw.decode()
        if not text.startswith("hex:"):
            return quote(text, safe="")
    except UnicodeDecodeError:
        pass
    return "hex:" + raw.hex()


@dataclass(frozen=True)
class Included:
    """A transaction in a block, its inclusion proof checked here."""

    id: str
    height: int
    block: str
    final: bool
    #: The node's receipt (fee, confirmations; a contract transaction's
    #: outcome under `receipt["contract"]`).
    receipt: dict[str, Any]
    tx: dict[str, Any]


@dataclass(frozen=True)
class Record:
    """A record's latest value, its PutData's proof checked here."""

    owner: str
    key: bytes
    value: bytes
    height: int
    tx: str
    block: str


@dataclass(frozen=True)
class Event:
    """One event of the node's stream: `kind` (`block`, `tx`,
    `retracted`), its `id` (resume after it) and its `data`."""

    id: str
    kind: str
    data: dict[str, Any]


class Client:
    """A main node's HTTP API at `url` (e.g. `http://127.0.0.1:8080`)."""

    def __init__(self, url: str, timeout: float = 10.0, http: httpx.Client | None = None):
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._http = http or httpx.Client(base_url=self.url, timeout=timeout)
        self._params: dict[str, Any] | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------

    def _answer(self, r: httpx.Response) -> dict[str, Any]:
        try:
            body = r.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if r.status_code < 300:
                raise Refused(r.status_code, "not-json", f"the node's answer is not a JSON object: {r.text[:200]!r}")
            body = {}
        if r.status_code < 300:
            return body
        reason = body.get("reason") or str(body.get("type", "")).rsplit(":", 1)[-1] or "error"
        detail = body.get("detail") or r.text[:500]
        cls = NotFound if r.status_code == 404 else Refused
        raise cls(r.status_code, reason, detail, body)

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return self._answer(self._http.get(path, params=params))
        except httpx.HTTPError as e:
            raise Unreachable(f"{self.url}{path}: {e}") from None

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._answer(self._http.post(path, json=body))
        except httpx.HTTPError as e:
            raise Unreachable(f"{self.url}{path}: {e}") from None

    # --- reads --------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self._get("/api/v1/status")

    def params(self) -> dict[str, Any]:
        """The chain's parameters (read once)."""
        if self._params is None:
            self._params = self._get("/api/v1/params")
        return self._params

    @property
    def chain_id(self) -> bytes:
        return bytes.fromhex(self.params()["chain_id"])

    def account(self, address: str) -> dict[str, Any]:
        parse_address(address)
        return self._get(f"/api/v1/accounts/{address}")

    def balance(self, address: str) -> int:
        """An address's balance, in units."""
        return int(self.account(address)["balance"])

    def next_nonce(self, address: str) -> int:
        """The nonce a new transaction of `address` should carry, counting
        its transactions waiting in the mempool."""
        parse_address(address)
        a = self._get(f"/api/v1/accounts/{address}", {"next_nonce": "true"})
        return int(a.get("next_nonce", a["nonce"]))

    def history(self, address: str, limit: int = 20, before: str | None = None) -> dict[str, Any]:
        """One page of the transactions touching `address`, newest first
        (`next` names the next page's cursor in its query)."""
        parse_address(address)
        q: dict[str, Any] = {"limit": limit}
        if before:
            q["before"] = before
        return self._get(f"/api/v1/accounts/{address}/history", q)

    def tx(self, tx_id: str) -> dict[str, Any] | None:
        """A transaction as the node has it (on chain, or pending), or None."""
        try:
            return self._get(f"/api/v1/tx/{tx_id}")
        except NotFound:
            return None

    def associations(self) -> list[dict[str, Any]]:
        return self._get("/api/v1/associations")["associations"]

    # --- sending ------------------------------------------------------------

    def least_fee(self, kind: txm.Kind) -> int:
        """The smallest fee `kind` may pay: the chain's minimum, and for a
        contract transaction its fuel limit × the fuel price on top."""
        p = self.params()
        fee = int(p["min_fee"])
        fuel = getattr(kind, "fuel_limit", None)
        if fuel is not None:
            c = p.get("contracts") or {}
            fee += fuel * int(c.get("fuel_price", 0))
        return fee

    def sign(self, key: Key, kind: txm.Kind, *, fee: int | None = None, memo: bytes | str = b"",
             nonce: int | None = None) -> txm.SignedTransaction:
        """Builds and signs a transaction here (the next nonce and the least
        fee unless given)."""
        memo_b = memo.encode() if isinstance(memo, str) else memo
        t = txm.Transaction(
            chain_id=self.chain_id,
            sender=key.public_key,
            nonce=self.next_nonce(key.address) if nonce is None else nonce,
            fee=self.least_fee(kind) if fee is None else fee,
            kind=kind,
            memo=memo_b,
        )
        return t.sign(key)

    def submit(self, signed: txm.SignedTransaction) -> str:
        """Submits signed bytes; the id once the node accepted them."""
        r = self._post("/api/v1/tx", {"bytes": signed.hex()})
        return str(r["id"])

    def send(self, key: Key, kind: txm.Kind, *, fee: int | None = None, memo: bytes | str = b"",
             nonce: int | None = None, wait: bool = False, final: bool = False,
             timeout: float = 60.0) -> str | Included:
        """Signs and submits; with `wait`, returns once it is in a block (its
        proof checked here), with `final` once it is `finality_depth` deep."""
        signed = self.sign(key, kind, fee=fee, memo=memo, nonce=nonce)
        tx_id = self.submit(signed)
        if not wait and not final:
            return tx_id
        return self.wait(signed, final=final, timeout=timeout)

    def wait(self, signed: txm.SignedTransaction | str, *, final: bool = False,
             timeout: float = 60.0) -> Included:
        """Waits until a transaction is in a block (or final), checking its
        inclusion proof against the block's signed header. Given the signed
        transaction, it is submitted again every two slots, so one a node
        dropped is refused with the reason (Refused)."""
        tx_id = signed if isinstance(signed, str) else signed.id.hex()
        slot_s = max(int(self.params()["slot_ms"]), 50) / 1000
        deadline = time.monotonic() + timeout
        resubmit = time.monotonic() + 2 * slot_s
        while True:
            t = self.tx(tx_id)
            if t and t["status"] in ("included", "final"):
                inc = self._checked(tx_id, t)
                if inc.final or not final:
                    return inc
            now = time.monotonic()
            if now >= deadline:
                raise TimedOut(f"transaction {tx_id} is not {'final' if final else 'in a block'} after {timeout} s")
            if not isinstance(signed, str) and (t is None or t["status"] == "pending") and now >= resubmit:
                resubmit = now + 2 * slot_s
                self.submit(signed)
            time.sleep(min(slot_s / 3, 1.0))

    def _checked(self, tx_id: str, t: dict[str, Any]) -> Included:
        p, b = t["proof"], t["block"]
        h = check_inclusion(bytes.fromhex(t["tx"]["bytes"]), bytes.fromhex(b["header"]), p["index"],
                            p["leaf_count"], p["siblings"], bytes.fromhex(tx_id), self.chain_id)
        if h.height != b["height"]:
            raise ProofInvalid(f"the header is at height {h.height}, the node says {b['height']}")
        return Included(tx_id, h.height, h.hash.hex(), t["status"] == "final", t.get("receipt", {}), t["tx"])

    def transfer(self, key: Key, to: str, amount: int, memo: bytes | str = b"", **kw: Any) -> str | Included:
        """Sends `amount` units to `to`."""
        return self.send(key, txm.Transfer(parse_address(to), amount), memo=memo, **kw)

    def buy_weight(self, key: Key, epoch: int, amount: int, association: str, **kw: Any) -> str | Included:
        """Buys forging weight for `epoch`: a donation to `association`."""
        return self.send(key, txm.BuyWeight(epoch, amount, parse_address(association)), **kw)

    # --- records ------------------------------------------------------------

    def put_record(self, key: Key, name: bytes | str, value: bytes | str, **kw: Any) -> str | Included:
        """Stores `value` under (`key`'s address, `name`)."""
        n = name.encode() if isinstance(name, str) else name
        v = value.encode() if isinstance(value, str) else value
        return self.send(key, txm.PutData(n, v), **kw)

    def get_record(self, owner: str, name: bytes | str) -> Record | None:
        """A record's latest value, its PutData checked here: under the
        block's signed header, sent by `owner`, writing this key and value."""
        owner_key = parse_address(owner)
        n = name.encode() if isinstance(name, str) else bytes(name)
        try:
            r = self._get(f"/api/v1/data/{owner}/{_key_path(n)}")
        except NotFound:
            return None
        raw = bytes.fromhex(r["transaction"]["bytes"])
        m = r["proof"]["merkle"]
        h = check_inclusion(raw, bytes.fromhex(r["proof"]["header"]["bytes"]), m["index"], m["leaf_count"],
                            m["siblings"], bytes.fromhex(r["tx"]), self.chain_id)
        value = bytes.fromhex(r["value_hex"])
        sender, key_written, value_written = _put_data_fields(raw)
        if sender != owner_key or key_written != n or value_written != value:
            raise ProofInvalid(f"transaction {r['tx']} does not write this value under {owner}/{n!r}")
        if h.height != r["height"]:
            raise ProofInvalid(f"the record says height {r['height']}, its proof {h.height}")
        return Record(owner, n, value, h.height, r["tx"], h.hash.hex())

    # --- payments -----------------------------------------------------------

    def payment_received(self, from_: str, to: str, min_amount: int, memo: bytes | str | None = None,
                         since: int = 0, final: bool = True) -> Included | None:
        """A transfer from `from_` to `to` of at least `min_amount` units
        (with exactly `memo`, if given) in a block at `since` or above,
        final (`finality_depth` deep: no reorganisation undoes it) unless
        `final=False`, its proof checked; None if there is none among
        `to`'s newest 100 transactions."""
        return self._payment(to, min_amount, memo, parse_address(from_), since, final)

    def payment_with_memo(self, to: str, min_amount: int, memo: bytes | str, since: int = 0,
                          final: bool = True) -> Included | None:
        """As `payment_received`, from anyone: the transfer carrying `memo`
        (a payment reference an app gave its user)."""
        return self._payment(to, min_amount, memo, None, since, final)

    def _payment(self, to: str, min_amount: int, memo: bytes | str | None, sender: bytes | None, since: int,
                 final: bool) -> Included | None:
        receiver = parse_address(to)
        memo_b = memo.encode() if isinstance(memo, str) else memo
        for e in self.history(to, limit=100)["txs"]:
            if e["height"] < since:
                break
            k = e["tx"]["kind"]
            if k.get("type") != "transfer" or parse_address(k["to"]) != receiver or int(k["amount"]) < min_amount:
                continue
            if sender is not None and parse_address(e["tx"]["sender"]) != sender:
                continue
            if memo_b is not None and bytes.fromhex(e["tx"]["memo_hex"]) != memo_b:
                continue
            t = self.tx(e["id"])
            if t and (t["status"] == "final" or (not final and t["status"] == "included")):
                return self._checked(e["id"], t)
        return None

    # --- contracts ----------------------------------------------------------

    def contract(self, address: str) -> dict[str, Any] | None:
        try:
            return self._get(f"/api/v1/contracts/{address}")
        except NotFound:
            return None

    def query_contract(self, address: str, input: bytes = b"", caller: str | None = None, value: int = 0,
                       fuel: int | None = None) -> dict[str, Any]:
        """Runs the contract's `call` read-only at the tip: what it would do
        (`status`, `return_hex`, `events_hex`…); nothing is sent or paid."""
        q: dict[str, Any] = {"input": input.hex(), "value": str(value)}
        if caller:
            q["caller"] = caller
        if fuel is not None:
            q["fuel"] = str(fuel)
        return self._get(f"/api/v1/contracts/{address}/query", q)

    def contract_history(self, address: str, limit: int = 20, before: str | None = None) -> dict[str, Any]:
        """One page of the contract's transactions with their receipts."""
        q: dict[str, Any] = {"limit": limit}
        if before:
            q["before"] = before
        return self._get(f"/api/v1/contracts/{address}/history", q)

    def deploy_contract(self, key: Key, code: bytes, init: bytes = b"", fuel_limit: int = 1_000_000,
                        **kw: Any) -> tuple[str, str | Included]:
        """Deploys `code`; returns the contract's address (known before it
        lands) and what `send` returns."""
        nonce = self.next_nonce(key.address) if kw.get("nonce") is None else kw.pop("nonce")
        address = txm.contract_address(self.chain_id, key.public_key, nonce).hex()
        return address, self.send(key, txm.DeployContract(code, init, fuel_limit), nonce=nonce, **kw)

    def call_contract(self, key: Key, address: str, input: bytes = b"", value: int = 0, fuel_limit: int = 200_000,
                      **kw: Any) -> str | Included:
        """Calls a contract, sending it `value` units; with `wait`, the
        receipt is `Included.receipt["contract"]`."""
        return self.send(key, txm.CallContract(bytes.fromhex(address), input, value, fuel_limit), **kw)

    # --- the chain as it moves ----------------------------------------------

    def watch(self, addresses: list[str] | tuple[str, ...] = (), after: str | None = None,
              retry: float = 1.0) -> Iterator[Event]:
        """The node's events (`block`, `tx` for the watched addresses,
        `retracted`), for ever: it reconnects by itself and resumes after
        the last event it gave (the node's ids survive its restarts), so
        nothing is lost or repeated. Start at the tip, or after `after`
        (`"0"`: from the start of the node's log)."""
        for a in addresses:
            parse_address(a)
        last = after
        while True:
            headers = {"accept": "text/event-stream"}
            if last is not None:
                headers["last-event-id"] = last
            try:
                with self._http.stream("GET", "/api/v1/events", params=[("address", a) for a in addresses],
                                       headers=headers, timeout=httpx.Timeout(self._timeout, read=60.0)) as r:
                    if r.status_code >= 300:
                        r.read()
                        self._answer(r)
                    for ev in _sse(r.iter_lines()):
                        if ev.kind == "ready":
                            last = last if last is not None else ev.id
                            continue
                        last = ev.id
                        yield ev
            except (httpx.HTTPError, Unreachable):
                pass
            except Refused as e:
                if e.status != 503:
                    raise
            time.sleep(retry)


def _sse(lines: Iterator[str]) -> Iterator[Event]:
    kind, eid, data = "message", None, []
    for line in lines:
        if line == "":
            if data and eid is not None:
                yield Event(eid, kind, json.loads("\n".join(data)))
            kind, eid, data = "message", None, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                kind = value
            elif name == "id":
                eid = value
            elif name == "data":
                data.append(value)


def _put_data_fields(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """A PutData transaction's sender, key and value, from its bytes."""
    from .proof import _varint

    sender = raw[32:64]
    _, i = _varint(raw, 64)  # nonce
    _, i = _varint(raw, i)  # fee
    kind, i = _varint(raw, i)
    if kind != 4:
        raise ProofInvalid("the record's transaction is not a PutData")
    n, i = _varint(raw, i)
    key = raw[i : i + n]
    i += n
    n, i = _varint(raw, i)
    return sender, key, raw[i : i + n]
