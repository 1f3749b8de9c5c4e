"""Schemathesis hooks for tests/net/mesh.rs: the Mesh API held to the
official specification (tests/mesh/api.json, unchanged).

The specification answers every refusal with HTTP 500 and a Mesh `Error`
("Instead of utilizing HTTP status codes to describe node errors ... rich
errors are returned using this object"), so a 500 is not in itself a
server error here. What would be one is checked instead: a 5xx that is not
a 500 carrying a Mesh Error, or one whose code says the node itself failed
(13, "Internal error") or was busy (11) — never the answer to a request,
however malformed.

A schema-valid body names some network; this node serves one. Positive
cases are given this node's network identifier (GOODWILL_MESH_NETWORK) so
that the generated requests reach past the network check.
"""

import json
import os

import schemathesis

NETWORK = {"blockchain": "goodwill", "network": os.environ.get("GOODWILL_MESH_NETWORK", "test")}
NODE_FAILURES = {11, 13}


@schemathesis.hook
def map_case(context, case):
    meta = getattr(case, "meta", None)
    positive = meta is not None and meta.generation.mode.is_positive
    if positive and isinstance(case.body, dict) and isinstance(case.body.get("network_identifier"), dict):
        case.body["network_identifier"] = dict(NETWORK)
    return case


@schemathesis.check
def a_refusal_is_a_mesh_error_naming_the_input(ctx, response, case):
    if response.status_code < 500:
        return None
    if response.status_code != 500:
        raise AssertionError(f"HTTP {response.status_code}: Mesh refusals are 500 with an Error")
    try:
        e = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"a 500 whose body is not JSON: {response.content[:200]!r}") from None
    if not (isinstance(e, dict) and isinstance(e.get("code"), int) and isinstance(e.get("message"), str)
            and isinstance(e.get("retriable"), bool)):
        raise AssertionError(f"a 500 that is not a Mesh Error: {e!r}")
    if e["code"] in NODE_FAILURES:
        raise AssertionError(f"the node failed on this input: {e!r}")
    return None
