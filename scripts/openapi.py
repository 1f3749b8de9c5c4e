#!/usr/bin/env python3
"""Writes src/runtime/http/openapi.json, the OpenAPI 3.1 document of a main
node's HTTP API (docs/http.md), to stdout:

    python3 scripts/openapi.py > src/runtime/http/openapi.json

tests/net/openapi.rs checks the committed document is this script's output,
that every path in it is routed (and src/runtime/http/openapi.rs that every
route is in it), and runs schemathesis against a live node with it.

Addresses are `format: goodwill-address` with no pattern: their bech32m
checksum is beyond a pattern, and tests/net/schemathesis_hooks.py teaches
schemathesis to make valid ones.
"""
import json


def ref(n):
    return {"$ref": f"#/components/schemas/{n}"}


PROBLEM_DESC = {
    "400": "Bad input, naming what was wrong",
    "404": "Not found",
    "413": "Body over 64 KiB",
    "415": "Not sent as application/json",
    "422": "A well-formed transaction the node refused (`reason` says why)",
    "429": "Too many submissions from this address (`retry-after` says when to try again)",
    "503": "Busy: too many connections, or the node's core did not answer in time",
}
RETRY_AFTER = {"retry-after": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 0}}}


def problem_resp(code):
    r = {"description": PROBLEM_DESC[code], "content": {"application/problem+json": {"schema": ref("Problem")}}}
    if code == "429":
        r["headers"] = RETRY_AFTER
    return r


def json_resp(desc, schema):
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


def obj(required, props, **more):
    o = {"type": "object", "required": list(required), "properties": props}
    o.update(more)
    return o


def or_null(schema):
    """The schema, or null."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def input_obj(required, props, **more):
    """An object a client sends: a member given as null counts as left out
    (docs/http.md), so each optional member may be null."""
    return obj(required, {k: v if k in required else or_null(v) for k, v in props.items()}, **more)


INT = {"type": "integer", "minimum": 0}
STR = {"type": "string"}
TEXT_OR_NULL = {"type": ["string", "null"], "description": "The bytes as text, or null when they are not UTF-8"}
HEX = {"type": "string", "pattern": "^([0-9a-f]{2})*$"}
U64S = {"type": "string", "pattern": "^(0|[1-9][0-9]{0,19})$", "description": "A u64 in base units, as a decimal string"}
SIGNED = {"type": ["string", "null"], "pattern": "^(0|[+-][1-9][0-9]{0,19})$",
          "description": "A balance change in base units, a signed decimal string; null where the transaction alone does not say"}
CURSOR = {"type": "string", "pattern": "^[0-9]{1,19}:[0-9]{1,9}$", "description": "A position in the chain, height:index"}
NEXT = {"type": ["string", "null"], "description": "The path and query of the next page; null on the last"}


def bytes_pair(name):
    return {name: TEXT_OR_NULL, f"{name}_hex": HEX}


KINDS = {
    "transfer": (["to", "amount"], {"to": ref("Address"), "amount": ref("Amount")}),
    "buy-weight": (["epoch", "amount", "association"], {"epoch": INT, "amount": ref("Amount"), "association": ref("Address")}),
    "propose-association": (["name", "name_hex", "url", "url_hex", "account", "proof"],
                            {**bytes_pair("name"), **bytes_pair("url"), "account": ref("Address"),
                             "proof": {"type": "string", "pattern": "^[0-9a-f]{128}$"}}),
    "vote-association": (["proposal", "approve"], {"proposal": ref("Hash"), "approve": {"type": "boolean"}}),
    "put-data": (["key", "key_hex", "value", "value_hex"], {**bytes_pair("key"), **bytes_pair("value")}),
    "report-equivocation": (["header_a", "header_b"], {"header_a": ref("HeaderRef"), "header_b": ref("HeaderRef")}),
    "deploy-contract": (["code_hex", "init", "init_hex", "fuel_limit"],
                        {"code_hex": HEX, **bytes_pair("init"), "fuel_limit": ref("Amount")}),
    "call-contract": (["contract", "input", "input_hex", "value", "fuel_limit"],
                      {"contract": ref("Hash"), **bytes_pair("input"), "value": ref("Amount"), "fuel_limit": ref("Amount")}),
}


def kind_schema(t):
    req, props = KINDS[t]
    return obj(["type"] + req, {"type": {"const": t}, **props})


TX_FIELDS = {"chain_id": ref("Hash"), "sender": ref("Address"), "nonce": INT, "fee": ref("Amount"),
             "kind": ref("TxKind"), **bytes_pair("memo")}

schemas = {
    "Problem": obj(["type", "title", "status", "detail"], {
        "type": {"type": "string", "pattern": "^urn:goodwill:problem:[a-z0-9-]+$"},
        "title": STR, "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": STR,
        "field": {"type": "string", "description": "bad-transaction: the field that was wrong"},
        "reason": {"type": "string", "description": "tx-refused: a stable code"},
        "id": ref("Hash")}),
    "Hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    "Address": {"type": "string", "format": "goodwill-address",
                "description": "A public key as a bech32m address (prefix gw, checksummed: a typo is refused with a 400)"},
    "Amount": U64S,
    "Status": obj(["chain_id", "chain_name", "height", "tip", "tip_slot", "slot", "epoch", "key", "version", "uptime_s"], {
        "chain_id": ref("Hash"), "chain_name": STR, "height": INT, "tip": ref("Hash"), "tip_slot": INT, "slot": INT,
        "epoch": INT, "key": ref("Address"), "version": STR, "uptime_s": INT, "syncing": {"type": "boolean"},
        "mempool": INT, "peers": {"type": "array", "items": STR}, "forgers": INT, "clients": INT}),
    "Params": obj(["chain_id", "chain_name", "start_ms", "slot_ms", "epoch_slots", "block_reward", "min_fee", "finality_depth",
                   "bootstrap_forgers", "limits", "balances", "associations", "checkpoints", "contracts"], {
        "chain_id": ref("Hash"), "chain_name": STR, "start_ms": INT, "slot_ms": INT, "epoch_slots": INT,
        "block_reward": ref("Amount"), "min_fee": ref("Amount"), "finality_depth": INT,
        "bootstrap_forgers": {"type": "array", "items": ref("Address")}, "limits": {"type": "object"},
        "balances": {"type": "array", "items": obj(["address", "amount"], {"address": ref("Address"), "amount": ref("Amount")})},
        "associations": {"type": "array", "items": obj(["name", "url", "account"], {"name": STR, "url": STR, "account": ref("Address")})},
        "checkpoints": {"type": "array", "items": STR},
        "contracts": {"oneOf": [{"type": "null"}, obj(["fuel_price", "block_fuel", "storage_price"], {
            "fuel_price": ref("Amount"), "block_fuel": ref("Amount"), "storage_price": ref("Amount")})]}}),
    "BlockSummary": obj(["height", "hash", "canonical", "slot", "epoch", "parent", "forger", "tx_root", "state_digest",
                         "version", "size", "txs"], {
        "height": {"type": "integer", "minimum": 1}, "hash": ref("Hash"), "canonical": {"type": "boolean"}, "slot": INT,
        "epoch": INT, "parent": ref("Hash"), "forger": ref("Address"), "tx_root": ref("Hash"), "state_digest": ref("Hash"),
        "version": INT, "size": INT, "txs": {"type": "array", "items": ref("Hash")}}),
    "Block": {"allOf": [ref("BlockSummary"), obj(["transactions"], {
        "transactions": {"type": "array", "items": ref("SignedTransaction")}})]},
    "BlockPage": obj(["tip", "blocks", "next"], {"tip": INT, "blocks": {"type": "array", "items": ref("BlockSummary")}, "next": NEXT}),
    "Account": obj(["address", "balance", "nonce", "weights"], {
        "address": ref("Address"), "balance": ref("Amount"), "nonce": INT, "next_nonce": INT,
        "weights": {"type": "array", "items": obj(["epoch", "weight"], {"epoch": INT, "weight": ref("Amount")})}}),
    "History": obj(["address", "txs", "next"], {
        "address": ref("Address"), "next": NEXT,
        "txs": {"type": "array", "items": obj(["id", "height", "index", "block", "cursor", "direction", "balance_change", "tx"], {
            "id": ref("Hash"), "height": INT, "index": INT, "block": ref("Hash"), "cursor": CURSOR,
            "direction": {"enum": ["sent", "received", "self", "donated", "donation", "fee", "proposed", "reported", "equivocated", "called"]},
            "balance_change": SIGNED, "tx": ref("SignedTransaction")})}}),
    "HeaderRef": obj(["height", "slot", "forger", "hash", "bytes"], {
        "height": INT, "slot": INT, "forger": ref("Address"), "hash": ref("Hash"), "bytes": HEX}),
    "TxKind": {"oneOf": [kind_schema(t) for t in KINDS], "discriminator": {"propertyName": "type"}},
    "Transaction": obj(["chain_id", "sender", "nonce", "fee", "kind", "memo", "memo_hex"], TX_FIELDS,
                       description="The JSON form of a transaction (runtime::http::txjson)"),
    "SignedTransaction": {"allOf": [ref("Transaction"), obj(["id", "signature", "bytes"], {
        "id": ref("Hash"), "signature": {"type": "string", "pattern": "^[0-9a-f]{128}$"}, "bytes": HEX})]},
    "Encoded": obj(["tx", "signing_bytes", "tx_bytes", "signature", "signed_bytes", "id"], {
        "tx": ref("Transaction"), "signing_bytes": HEX, "tx_bytes": HEX, "signature": STR, "signed_bytes": STR, "id": STR}),
    "TxOnChain": obj(["status", "tx", "block", "proof", "proof_checked", "receipt"], {
        "status": {"enum": ["included", "final"]}, "tx": ref("SignedTransaction"),
        "block": obj(["height", "hash", "slot", "forger", "tx_root", "header"], {
            "height": INT, "hash": ref("Hash"), "slot": INT, "forger": ref("Address"), "tx_root": ref("Hash"), "header": HEX}),
        "proof": obj(["index", "leaf_count", "siblings", "root"], {
            "index": INT, "leaf_count": INT, "siblings": {"type": "array", "items": ref("Hash")}, "root": ref("Hash")}),
        "proof_checked": {"type": "boolean"},
        "receipt": obj(["confirmations", "finality_depth", "finalized", "fee", "fee_to"], {
            "confirmations": INT, "finality_depth": INT, "finalized": {"type": "boolean"}, "fee": ref("Amount"),
            "fee_to": ref("Address"),
            # Only a contract transaction's receipt has it (docs/http.md).
            "contract": ref("ContractReceipt")})}),
    "ContractReceipt": obj(["contract", "status", "trap", "fuel_used", "fee", "storage_charge", "return_hex",
                            "events_hex", "height"], {
        "contract": ref("Hash"), "status": {"enum": ["ok", "trapped", "out-of-fuel"]},
        "trap": {"type": ["string", "null"]}, "fuel_used": ref("Amount"), "fee": ref("Amount"),
        "storage_charge": ref("Amount"), "return_hex": HEX, "events_hex": {"type": "array", "items": HEX},
        "height": INT}),
    "ContractHistory": obj(["contract", "txs", "next"], {
        "contract": ref("Hash"), "next": NEXT,
        "txs": {"type": "array", "items": obj(["id", "height", "index", "block", "cursor", "tx", "receipt"], {
            "id": ref("Hash"), "height": INT, "index": INT, "block": ref("Hash"), "cursor": CURSOR,
            "tx": ref("SignedTransaction"), "receipt": ref("ContractReceipt")})}}),
    "TxPending": obj(["status", "tx"], {"status": {"const": "pending"}, "tx": ref("SignedTransaction")}),
    "Mempool": obj(["count", "bytes", "held_back", "listed", "txs"], {
        "count": INT, "bytes": INT, "held_back": INT, "listed": INT, "txs": {"type": "array", "items": ref("SignedTransaction")}}),
    "Forgers": obj(["count", "forgers"], {"count": INT, "forgers": {"type": "array", "items": obj(
        ["key", "connected", "reported_ms", "version", "height", "tip", "clock_offset_ms", "clock_trusted", "leds", "leds_text",
         "forged", "missed", "weight", "cpu_ms", "rss_bytes", "bytes_per_block", "energy_joules", "throttled", "soc_temp_mc"], {
            "key": ref("Address"), "connected": {"type": "boolean"}, "reported_ms": INT, "version": STR, "height": INT,
            "tip": ref("Hash"), "clock_offset_ms": {"type": "integer"}, "clock_trusted": {"type": "boolean"},
            "leds": {"type": "object", "additionalProperties": STR}, "leds_text": STR, "forged": INT, "missed": INT,
            "weight": ref("Amount"), "cpu_ms": INT, "rss_bytes": INT, "bytes_per_block": INT, "energy_joules": INT,
            "throttled": {"type": ["integer", "null"]}, "soc_temp_mc": {"type": ["integer", "null"]}})}}),
    "Record": obj(["address", "key", "key_hex", "value", "value_hex", "height", "tx", "block", "transaction", "proof",
                   "proof_checked"], {
        "address": ref("Address"), **bytes_pair("key"), **bytes_pair("value"), "height": INT, "tx": ref("Hash"),
        "block": ref("Hash"), "transaction": ref("SignedTransaction"), "proof_checked": {"type": "boolean"},
        "proof": obj(["header", "merkle", "proof_checked"], {
            "header": obj(["height", "slot", "hash", "parent", "forger", "tx_root", "bytes"], {
                "height": INT, "slot": INT, "hash": ref("Hash"), "parent": ref("Hash"), "forger": ref("Address"),
                "tx_root": ref("Hash"), "bytes": HEX}),
            "merkle": obj(["index", "leaf_count", "siblings"], {
                "index": INT, "leaf_count": INT, "siblings": {"type": "array", "items": ref("Hash")}}),
            "proof_checked": {"type": "boolean"}})}),
    "RecordHistory": obj(["address", "key", "key_hex", "writes", "next"], {
        "address": ref("Address"), **bytes_pair("key"), "next": NEXT,
        "writes": {"type": "array", "items": obj(["tx", "height", "index", "block", "cursor"], {
            "tx": ref("Hash"), "height": INT, "index": INT, "block": ref("Hash"), "cursor": CURSOR, **bytes_pair("value")})}}),
    "Contract": obj(["address", "code_hash", "code_bytes", "deployer", "balance", "stored_bytes", "height"], {
        "address": ref("Hash"), "code_hash": ref("Hash"), "code_bytes": INT, "deployer": ref("Address"),
        "balance": ref("Amount"), "stored_bytes": INT, "height": INT}),
    "ContractQuery": obj(["contract", "status", "trap", "fuel_used", "return_hex", "events_hex", "transfers", "writes",
                          "at_height"], {
        "contract": ref("Hash"), "status": {"enum": ["ok", "trapped", "out-of-fuel"]}, "trap": {"type": ["string", "null"]},
        "fuel_used": ref("Amount"), "return_hex": HEX, "events_hex": {"type": "array", "items": HEX},
        "transfers": {"type": "array", "items": obj(["to", "amount"], {"to": ref("Address"), "amount": ref("Amount")})},
        "writes": INT, "at_height": INT}),
    "Association": obj(["id", "account", "proposer", "proposed_epoch", "status", "approved_since_epoch", "removed_at_epoch",
                        "listed", "round_epoch", "votes", "votes_yes", "votes_no", "donations", "balance",
                        "name", "name_hex", "url", "url_hex"], {
        "id": ref("Hash"), "account": ref("Address"), "proposer": ref("Address"), "proposed_epoch": INT,
        "status": {"enum": ["pending", "lapsed", "approved", "removed"]},
        "approved_since_epoch": {"type": ["integer", "null"], "minimum": 0},
        "removed_at_epoch": {"type": ["integer", "null"], "minimum": 0}, "listed": {"type": "boolean"}, "round_epoch": INT,
        "votes": {"type": "array", "items": obj(["voter", "approve"], {"voter": ref("Address"), "approve": {"type": "boolean"}})},
        "votes_yes": INT, "votes_no": INT, "donations": ref("Amount"), "balance": ref("Amount"),
        **bytes_pair("name"), **bytes_pair("url")}),
    "Associations": obj(["epoch", "associations"], {"epoch": INT, "associations": {"type": "array", "items": ref("Association")}}),
    # What a client sends.
    "TransactionInput": input_obj(["sender", "kind"], {
        "chain_id": ref("Hash"), "sender": ref("Address"), "nonce": INT, "fee": ref("Amount"), "kind": ref("TxKindInput"),
        "memo": {"type": "string", "maxLength": 16}},
        additionalProperties=False,
        description="A transaction without signature; nonce, fee and chain_id are filled in when left out. "
                    "(memo_hex, and a kind's byte strings as *_hex, are taken too: docs/http.md)"),
    "TxKindInput": {"oneOf": [
        obj(["type", "to", "amount"], {"type": {"const": "transfer"}, "to": ref("Address"), "amount": ref("Amount")},
            additionalProperties=False),
        obj(["type", "key", "value"], {"type": {"const": "put-data"}, "key": {"type": "string", "minLength": 1, "maxLength": 16},
                                       "value": {"type": "string", "maxLength": 64}}, additionalProperties=False),
        obj(["type", "proposal", "approve"], {"type": {"const": "vote-association"}, "proposal": ref("Hash"),
                                              "approve": {"type": "boolean"}}, additionalProperties=False),
    ], "description": "Every kind of TxKind is taken (docs/http.md); these are the ones described for input here"},
    "Submission": {"oneOf": [
        obj(["bytes"], {"bytes": HEX}, additionalProperties=False,
            description="The signed transaction's canonical bytes (tx_bytes || signature), hex"),
        input_obj(["sender", "kind", "nonce", "fee", "signature"], {
            "chain_id": ref("Hash"), "sender": ref("Address"), "nonce": INT, "fee": ref("Amount"), "kind": ref("TxKindInput"),
            "memo": {"type": "string", "maxLength": 16}, "signature": {"type": "string", "pattern": "^[0-9a-f]{128}$"},
            "id": ref("Hash")}, additionalProperties=False,
            description="The JSON form plus the signature over /tx/encode's signing_bytes"),
    ]},
    "Submitted": obj(["id", "accepted"], {"id": ref("Hash"), "accepted": {"const": True}}),
}


def op(method, op_id, summary, ok, params=(), errors=(), body=None, ok_code="200", description=None):
    r = {ok_code: ok}
    for e in tuple(errors) + ("503",):
        r[e] = problem_resp(e)
    o = {"operationId": op_id, "summary": summary, "parameters": list(params), "responses": r}
    if description:
        o["description"] = description
    if body:
        o["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return {method: o}


def pp(name, schema, desc):
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": desc}


def qp(name, schema, desc):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}


LIMIT = qp("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Entries in a page")
BEFORE = qp("before", CURSOR, "Entries strictly older than this cursor (a page's `next` gives it)")
ADDRESS = pp("address", ref("Address"), "The account's address")
KEY = pp("key", {"type": "string", "pattern": "^([^:]{1,16}|hex:([0-9a-f]{2}){1,64})$"},
         "The record key: UTF-8 text, percent-encoded in the path (a '/' as %2F), 1 to 64 bytes once decoded; "
         "or hex: and hex digits for any bytes. The pattern describes a subset: a JSON Schema counts characters, "
         "not bytes (16 characters are at most 64 bytes), and a text key holding ':' is taken too")

paths = {
    "/api/v1/status": op("get", "status", "The node's view of the chain", json_resp("Status", ref("Status"))),
    "/api/v1/params": op("get", "params", "The chain's parameters (its genesis)", json_resp("Params", ref("Params"))),
    "/api/v1/blocks": op("get", "blocks", "The canonical chain's blocks, a page at a time",
                         json_resp("A page of blocks", ref("BlockPage")), [
                             qp("from", {"type": "integer", "minimum": 1, "maximum": 18446744073709551615},
                                "The first height of the page (default: the tip; with order=asc, 1)"),
                             LIMIT,
                             qp("order", {"enum": ["asc", "desc"], "default": "desc"}, "Newest first (desc) or upwards (asc)")],
                         errors=("400",)),
    "/api/v1/blocks/{id}": op("get", "block", "A block by height or hash", json_resp("Block", ref("Block")),
                              [pp("id", {"type": "string", "pattern": "^([0-9]{1,19}|[0-9a-f]{64})$"},
                                  "A height (1 is the first block) or a block hash")], errors=("400", "404")),
    "/api/v1/accounts/{address}": op("get", "account", "An account's balance, nonce and weight",
                                     json_resp("Account", ref("Account")),
                                     [ADDRESS, qp("next_nonce", {"type": "boolean", "default": False},
                                                  "true: also next_nonce, counting the account's pending transactions "
                                                  "(asks the node's core)")], errors=("400",)),
    "/api/v1/accounts/{address}/history": op("get", "account_history", "The transactions touching an account, newest first",
                                             json_resp("A page of the account's history", ref("History")),
                                             [ADDRESS, LIMIT, BEFORE], errors=("400",)),
    "/api/v1/tx/encode": op("post", "encode_tx", "A transaction without signature -> the bytes to sign",
                            json_resp("What to sign", ref("Encoded")), errors=("400", "413", "415", "429"),
                            body=ref("TransactionInput")),
    "/api/v1/tx": op("post", "submit_tx", "Submit a signed transaction",
                     json_resp("Accepted (pending, or already on chain)", ref("Submitted")), ok_code="202",
                     errors=("400", "413", "415", "422", "429"), body=ref("Submission")),
    "/api/v1/tx/{id}": op("get", "tx", "A transaction by id: on chain with its proof and receipt, or pending",
                          json_resp("The transaction", {"oneOf": [ref("TxOnChain"), ref("TxPending")]}),
                          [pp("id", ref("Hash"), "The transaction id")], errors=("400", "404")),
    "/api/v1/mempool": op("get", "mempool", "The transactions waiting for a block, highest fee first",
                          json_resp("The mempool", ref("Mempool")),
                          [qp("limit", {"type": "integer", "minimum": 0, "maximum": 100, "default": 20}, "Transactions listed")],
                          errors=("400",)),
    "/api/v1/forgers": op("get", "forgers", "The forger table, with each forger's last report",
                          json_resp("The forgers", ref("Forgers"))),
    "/api/v1/data/{address}/{key}": op("get", "record", "A data record's latest value, with its checked inclusion proof",
                                       json_resp("The record", {"oneOf": [ref("Record"), ref("RecordHistory")]}),
                                       [ADDRESS, KEY, qp("history", {"type": "boolean", "default": False},
                                                         "true: every write, as /history answers (paged by limit and before)")],
                                       errors=("400", "404")),
    "/api/v1/data/{address}/{key}/history": op("get", "record_history", "Every write of a record, newest first",
                                               json_resp("A page of writes", ref("RecordHistory")),
                                               [ADDRESS, KEY, LIMIT, BEFORE], errors=("400",)),
    "/api/v1/associations": op("get", "associations", "Every association and proposal, with its donations",
                               json_resp("The associations", ref("Associations"))),
    "/api/v1/associations/{id}": op("get", "association", "An association or proposal by id or by its account's address",
                                    json_resp("The association", ref("Association")),
                                    [pp("id", {"anyOf": [ref("Hash"), ref("Address")]},
                                        "The proposal's id (64 hex digits) or the association's address")],
                                    errors=("400", "404")),
    "/api/v1/contracts/{address}": op("get", "contract", "A contract's account",
                                      json_resp("The contract", ref("Contract")),
                                      [pp("address", ref("Hash"), "The contract's address (64 hex digits)")],
                                      errors=("400", "404")),
    "/api/v1/contracts/{address}/query": op(
        "get", "contractQuery", "A read-only call: the contract's `call` run at the tip, nothing written or charged",
        json_resp("What the call would do", ref("ContractQuery")),
        [pp("address", ref("Hash"), "The contract's address (64 hex digits)"),
         qp("input", {"type": "string", "pattern": "^([0-9a-f]{2}){0,1024}$"}, "The call's input, hex (at most 1 KiB)"),
         qp("caller", ref("Address"), "Who calls (default: 32 zero bytes)"),
         qp("value", {"type": "string", "pattern": "^(0|[1-9][0-9]{0,17})$"}, "Coins the call would send (default 0)"),
         qp("fuel", {"type": "string", "pattern": "^[1-9][0-9]{0,17}$"},
            "The most fuel it may use (default 1,000,000; more than 2,000,000 is taken as 2,000,000)")],
        errors=("400", "404")),
    "/api/v1/contracts/{address}/history": op(
        "get", "contractHistory", "The transactions that deployed or called a contract, newest first, with their receipts",
        json_resp("A page of the contract's transactions", ref("ContractHistory")),
        [pp("address", ref("Hash"), "The contract's address (64 hex digits)"), LIMIT, BEFORE],
        errors=("400", "404")),
    "/api/v1/events": op("get", "events", "The chain as Server-Sent Events",
                         {"description": "An event stream: ready, then block, tx and retracted events (docs/http.md)",
                          "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                         [qp("address", {"type": "array", "items": ref("Address"), "maxItems": 16},
                             "Watch this address (repeatable, at most 16)") | {"style": "form", "explode": True},
                          qp("after", {"type": "string", "pattern": "^(0|[1-9][0-9]{0,19}(\\.[0-9]{1,10})?)$"},
                             "Start after this event id (0: the whole log)"),
                          {"name": "Last-Event-ID", "in": "header", "required": False,
                           "schema": {"type": "string", "pattern": "^(0|[1-9][0-9]{0,19}(\\.[0-9]{1,10})?)$"},
                           "description": "Resume after this event id (wins over after=)"}],
                         errors=("400",),
                         description="Never ends: a client reads it as it comes. Without after= or Last-Event-ID it starts at the tip."),
    "/api/v1/openapi.json": op("get", "openapi", "This document",
                               json_resp("The OpenAPI 3.1 document", {"type": "object", "required": ["openapi", "paths"]})),
    "/metrics": op("get", "metrics", "Prometheus metrics (text format 0.0.4)",
                   {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}),
}

doc = {
    "openapi": "3.1.0",
    "info": {"title": "goodwill main node HTTP API", "version": "1", "license": {"name": "MIT OR Apache-2.0"},
             "description": "The JSON API of a goodwill main node (docs/http.md). Amounts are decimal strings of base units; "
                            "refusals are RFC 9457 problem details. Every route answers 405 (with allow) to another method."},
    "servers": [{"url": "/"}],
    "paths": paths,
    "components": {"schemas": schemas},
}
print(json.dumps(doc, indent=2))
