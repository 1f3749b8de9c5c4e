"""Serve a view only once its user has paid: `@require_payment`.

    from goodwill.django.payments import require_payment

    @require_payment("0.5")                      # 0.5 GWL to the app's address
    def report(request): ...

Until a transfer of at least the amount, carrying the user's payment
reference as its memo, is on chain (final, with GOODWILL_FINALITY), the
view answers **402 Payment Required** with what to pay: JSON

    {"payment_required": true, "to": "gw1…", "amount": "500000",
     "amount_coins": "0.5", "memo": "gw-3f9c…", "final": true}

or, to a browser, a small page saying the same. The reference is the
user's (or, anonymous, the session's) own for that view: an HMAC under
the project's SECRET_KEY, so it cannot be guessed for someone else. Once
paid, the answer is remembered in Django's cache.

With `contract="<paywall address>"` and `payer=lambda request: "gw1…"`,
the check is the paywall contract's instead: `paid(payer)` (its `02 ‖
address` query) must be at least the amount.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from decimal import Decimal
from typing import Any, Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape

from goodwill import coins, parse_address
from goodwill.client import COIN

from . import conf


def reference(request: HttpRequest, scope: str) -> str:
    """The payment reference (memo) of this user, or session, for `scope`.
    An anonymous visitor's is tied to a random value kept in their session
    (not to the session's key, which a signed-cookie session changes with
    every change of its data)."""
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        who = f"user:{user.pk}"
    else:
        who = "session:" + request.session.setdefault("goodwill_payer", secrets.token_hex(16))
    mac = hmac.new(settings.SECRET_KEY.encode(), f"goodwill/{scope}/{who}".encode(), hashlib.sha256)
    return "gw-" + mac.hexdigest()[:24]


def _units(amount: int | str | Decimal) -> int:
    return amount if isinstance(amount, int) else coins(amount)


def _coins_text(units: int) -> str:
    return format(Decimal(units) / COIN, "f").rstrip("0").rstrip(".") or "0"


def paid(to: str, units: int, memo: str) -> bool:
    """Whether a transfer of at least `units` with `memo` reached `to`."""
    key = f"goodwill:paid:{to}:{memo}:{units}"
    if cache.get(key):
        return True
    found = conf.client().payment_with_memo(to, units, memo, final=conf.finality()) is not None
    if found:
        cache.set(key, True, None)
    return found


def paid_to_contract(contract: str, payer: str, units: int) -> bool:
    """Whether the paywall `contract` says `payer` paid at least `units`."""
    q = conf.client().query_contract(contract, b"\x02" + parse_address(payer))
    if q["status"] != "ok":
        return False
    return int.from_bytes(bytes.fromhex(q["return_hex"]), "little") >= units


def _payment_required(request: HttpRequest, what: dict[str, Any]) -> HttpResponse:
    if "text/html" in request.headers.get("accept", "") and "application/json" not in request.headers.get("accept", ""):
        rows = "".join(f"<tr><th>{escape(k)}</th><td><code>{escape(str(v))}</code></td></tr>" for k, v in what.items()
                       if k != "payment_required")
        page = ("<!doctype html><title>Payment required</title><h1>Payment required</h1>"
                f"<p>Send the amount below with this memo; this page opens once it is on chain.</p><table>{rows}</table>")
        return HttpResponse(page, status=402)
    return JsonResponse(what, status=402)


def require_payment(amount: int | str | Decimal, to: str | None = None, *, contract: str | None = None,
                    payer: Callable[[HttpRequest], str | None] | None = None,
                    scope: str | Callable[[HttpRequest], str] | None = None,
                    ) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A view decorator: 402 with what to pay until `amount` (units, or
    coins as text: "0.5") is paid to `to` (default: the app's address)
    with the user's reference — or, with `contract`, into that paywall by
    the address `payer(request)` names.

    One payment opens the view for that user for good, per `scope`: the
    view's name by default, or a string, or a function of the request —
    `scope=lambda r: f"doc/{r.session['document']}"` asks a fee per
    document."""
    units = _units(amount)

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        default = f"{view.__module__}.{view.__qualname__}"

        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if contract is not None:
                who = payer(request) if payer else None
                if who and paid_to_contract(contract, who, units):
                    return view(request, *args, **kwargs)
                return _payment_required(request, {
                    "payment_required": True, "contract": contract, "input": "01", "payer": who,
                    "amount": str(units), "amount_coins": _coins_text(units),
                })
            dest = to or conf.key().address
            name = scope(request) if callable(scope) else (scope or default)
            memo = reference(request, name)
            if paid(dest, units, memo):
                return view(request, *args, **kwargs)
            return _payment_required(request, {
                "payment_required": True, "to": dest, "amount": str(units), "amount_coins": _coins_text(units),
                "memo": memo, "final": conf.finality(),
            })

        return wrapped

    return decorate
