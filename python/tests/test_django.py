"""The Django app and the example project (examples/django_notary) against
the devnet: 402 with what to pay until the payment is final, then the
document's hash stored on chain and shown verified; a reference per
session; the paywall contract as the check; `manage.py goodwill_watch`."""

import hashlib
import io
import os
import pathlib
import sys

import pytest

from goodwill import Client, keyfile
from conftest import key

ROOT = pathlib.Path(__file__).resolve().parents[2]
EVENTS = []


def collect(event):
    """A goodwill_watch handler (by its dotted path, test_django.collect)."""
    EVENTS.append(event)


@pytest.fixture(scope="module")
def notary(devnet):
    sys.path.insert(0, str(ROOT / "examples/django_notary"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "notary.settings"
    os.environ["GOODWILL_NODE_URL"] = devnet["url"]
    os.environ["GOODWILL_KEY_FILE"] = str(devnet["dir"] / "keys/carol.key")
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()
    yield
    sys.path.remove(str(ROOT / "examples/django_notary"))


def upload(c, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = c.post("/upload", {"document": SimpleUploadedFile("doc.txt", data)})
    assert r.status_code == 302, r.content


def test_402_until_the_fee_is_final_then_the_hash_on_chain_verified(notary, devnet):
    from django.test import Client as Browser

    node = Client(devnet["url"])
    carol, bob = key(devnet, "carol"), key(devnet, "bob")
    doc = b"the deed of the house on the hill"
    digest = hashlib.sha256(doc).hexdigest()
    user = Browser()
    upload(user, doc)
    r = user.get("/notarize", HTTP_ACCEPT="application/json")
    assert r.status_code == 402, r.content
    ask = r.json()
    assert ask["to"] == carol.address and ask["amount_coins"] == "0.01" and ask["amount"] == "10000"
    assert ask["memo"].startswith("gw-") and ask["final"] is True
    # A browser gets the same as a page.
    page = user.get("/notarize", HTTP_ACCEPT="text/html")
    assert page.status_code == 402 and ask["memo"].encode() in page.content
    # Another visitor has a reference of their own.
    other = Browser()
    upload(other, b"another document")
    assert other.get("/notarize").json()["memo"] != ask["memo"]

    # Paying too little, or without the reference, does not open it.
    node.transfer(bob, carol.address, 9_999, memo=ask["memo"], final=True)
    node.transfer(bob, carol.address, 10_000, memo="something else", final=True)
    assert user.get("/notarize").status_code == 402
    # The fee with the reference, final: the view runs and stores the hash.
    node.transfer(bob, carol.address, 10_000, memo=ask["memo"], final=True)
    r = user.get("/notarize")
    assert r.status_code == 302, r.content
    assert r["location"].endswith(f"/record/{digest}")
    rec = user.get(f"/record/{digest}").json()
    assert rec == {**rec, "document_sha256": digest, "owner": carol.address, "verified": True}
    assert node.get_record(carol.address, f"notary/{digest[:40]}").value == bytes.fromhex(digest)
    # The other visitor still has to pay; so does this one for another
    # document (a fee per document), with another reference.
    assert other.get("/notarize").status_code == 402
    upload(user, b"a second deed")
    again = user.get("/notarize")
    assert again.status_code == 402 and again.json()["memo"] != ask["memo"]


def test_the_paywall_contract_as_the_check(notary, devnet):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from goodwill.django.payments import require_payment

    node = Client(devnet["url"])
    alice, bob = key(devnet, "alice"), key(devnet, "bob")
    code = (ROOT / "contracts/paywall.wasm").read_bytes()
    address, _ = node.deploy_contract(alice, code, (700).to_bytes(8, "little"), 200_000, wait=True)

    @require_payment(700, contract=address, payer=lambda request: request.GET.get("payer"))
    def premium(request):
        return HttpResponse("premium")

    ask = RequestFactory().get("/premium", {"payer": bob.address}, HTTP_ACCEPT="application/json")
    r = premium(ask)
    assert r.status_code == 402
    node.call_contract(bob, address, b"\x01", value=700, fuel_limit=200_000, wait=True)
    assert premium(ask).status_code == 200


def test_goodwill_watch_calls_the_handlers_and_resumes(notary, devnet, tmp_path):
    from django.core.management import call_command

    carol = key(devnet, "carol")
    state = tmp_path / "state"
    state.write_text("0")  # from the start of the node's log
    call_command("goodwill_watch", "--address", carol.address, "--handler", "test_django.collect",
                 "--state", str(state), "--count", "3")
    assert len(EVENTS) == 3
    assert state.read_text() == EVENTS[-1].id
    call_command("goodwill_watch", "--address", carol.address, "--handler", "test_django.collect",
                 "--state", str(state), "--count", "2")
    ids = [e.id for e in EVENTS]
    assert len(ids) == len(set(ids)) == 5, ids
    out = io.StringIO()
    # Another last character (an address ending in "q" stays itself with "q").
    other = "p" if carol.address.endswith("q") else "q"
    with pytest.raises(Exception, match="checksum"):
        call_command("goodwill_watch", "--address", carol.address[:-1] + other, "--count", "1", stdout=out)


def test_a_models_field_hash_on_chain_and_a_sealed_app_key(notary, devnet, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings

    from goodwill import Key
    from goodwill.django import conf, records

    doc = SimpleNamespace(_meta=SimpleNamespace(app_label="deeds", model_name="deed"), pk=12, body="the hill")
    records.store_hash(doc, "body")
    assert records.name_for(doc, "body") == "deeds.deed/12/body"
    assert records.verify_hash(doc, "body")
    doc.body = "the valley"
    assert not records.verify_hash(doc, "body")

    # A sealed app key opens with the passphrase from the environment.
    sealed = tmp_path / "app.key"
    k = Key.generate()
    keyfile.write(sealed, k, "app passphrase")
    with override_settings(GOODWILL_KEY_FILE=str(sealed)):
        monkeypatch.delenv("GOODWILL_PASSPHRASE", raising=False)
        with pytest.raises(ImproperlyConfigured, match="GOODWILL_PASSPHRASE"):
            conf.key()
        monkeypatch.setenv("GOODWILL_PASSPHRASE", "app passphrase")
        assert conf.key().address == k.address
