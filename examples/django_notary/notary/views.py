"""Upload a document, pay the fee (402 until paid), and the app stores the
document's SHA-256 on chain and shows the record, verified."""

import hashlib

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt

from goodwill.django import records
from goodwill.django.payments import require_payment

MAX_UPLOAD = 10 * 1024 * 1024


def record_name(digest: str) -> str:
    """The record a document's hash is stored under: its first 160 bits
    name it (a record's name is at most 64 bytes); the value is all 256."""
    return f"notary/{digest[:40]}"


def home(request):
    return HttpResponse(
        "<!doctype html><title>Notary</title><h1>Notarise a document</h1>"
        '<form method="post" action="upload" enctype="multipart/form-data">'
        '<input type="file" name="document"> <button>Upload</button></form>'
    )


@csrf_exempt
def upload(request):
    if request.method != "POST" or "document" not in request.FILES:
        return HttpResponseBadRequest("POST a file as the form field 'document'")
    f = request.FILES["document"]
    if f.size > MAX_UPLOAD:
        return HttpResponseBadRequest(f"at most {MAX_UPLOAD} bytes")
    h = hashlib.sha256()
    for chunk in f.chunks():
        h.update(chunk)
    request.session["document"] = h.hexdigest()
    return redirect("notarize")


# A fee per document: the reference names the uploaded document's hash.
@require_payment(settings.NOTARY_FEE, scope=lambda request: "notary/" + request.session.get("document", ""))
def notarize(request):
    digest = request.session.get("document")
    if not digest:
        return HttpResponseBadRequest("upload a document first")
    records.put(record_name(digest), bytes.fromhex(digest))
    return redirect("record", digest=digest)


def record(request, digest):
    rec = records.get(records.address(), record_name(digest))
    if rec is None:
        return HttpResponse("not notarised", status=404)
    answer = {"document_sha256": digest, "owner": rec.owner, "height": rec.height, "tx": rec.tx,
              "block": rec.block, "verified": rec.value == bytes.fromhex(digest)}
    if "text/html" in request.headers.get("accept", ""):
        rows = "".join(f"<tr><th>{k}</th><td><code>{escape(str(v))}</code></td></tr>" for k, v in answer.items())
        return HttpResponse(f"<!doctype html><title>Notarised</title><h1>Notarised</h1><table>{rows}</table>")
    return JsonResponse(answer)
