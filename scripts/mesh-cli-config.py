#!/usr/bin/env python3
"""Writes mesh-cli's configuration for a running goodwill node (docs/mesh.md).

    python3 scripts/mesh-cli-config.py --url http://127.0.0.1:PORT --key DEVNET/keys/alice.key --out mesh-check

reads the node's network from POST {url}/mesh/network/list, and writes
OUT/goodwill.json and OUT/goodwill.ros from docs/mesh/ with the node's URL,
its network name, and the key file's account as mesh-cli's prefunded
account (and the address return_funds sends back to). Python 3 standard
library only; then, on a machine with mesh-cli:

    mesh-cli check:data --configuration-file OUT/goodwill.json
    mesh-cli check:construction --configuration-file OUT/goodwill.json
"""

import argparse
import json
import pathlib
import re
import sys
import urllib.request

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "mesh"


def key_file(path: pathlib.Path) -> tuple[str, str]:
    """(address, secret hex) of a plain goodwill key file."""
    text = path.read_text()
    fields = dict(re.findall(r'^(address|secret)\s*=\s*"([^"]*)"', text, re.M))
    if "secret" not in fields:
        sys.exit(f"{path}: no plain `secret` (a sealed key file cannot be handed to mesh-cli; use a devnet key)")
    if not re.fullmatch(r"[0-9a-f]{64}", fields["secret"]):
        sys.exit(f"{path}: its secret is not 64 hex digits")
    return fields["address"], fields["secret"]


def network(url: str) -> dict:
    req = urllib.request.Request(f"{url}/mesh/network/list", data=b"{}",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        nets = json.load(r)["network_identifiers"]
    if len(nets) != 1:
        sys.exit(f"{url}: {len(nets)} networks; expected one")
    return nets[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="the node's HTTP address, e.g. http://127.0.0.1:8080")
    ap.add_argument("--key", required=True, type=pathlib.Path, help="a plain key file holding coins")
    ap.add_argument("--out", required=True, type=pathlib.Path, help="the directory to write into")
    a = ap.parse_args()
    url = a.url.rstrip("/")
    net = network(url)
    address, secret = key_file(a.key)
    config = json.loads((DOCS / "goodwill-devnet.json").read_text())
    config["network"] = net
    config["online_url"] = config["construction"]["offline_url"] = f"{url}/mesh"
    account = config["construction"]["prefunded_accounts"][0]
    account["privkey"], account["account_identifier"] = secret, {"address": address}
    ros = (DOCS / "goodwill.ros").read_text()
    ros = ros.replace('"network":"goodwill-devnet"', f'"network":{json.dumps(net["network"])}')
    ros = ros.replace("FAUCET_ADDRESS", address)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "goodwill.json").write_text(json.dumps(config, indent=1) + "\n")
    (a.out / "goodwill.ros").write_text(ros)
    print(f"wrote {a.out / 'goodwill.json'} and {a.out / 'goodwill.ros'} for {net['network']} at {url}/mesh")


if __name__ == "__main__":
    main()
