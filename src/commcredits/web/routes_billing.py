"""Billing > Communications Credits: balance, lots, transactions, Add funds, auto-recharge,
payment methods and receipts.

Every action is a form POST answered with a redirect back to its page (post/redirect/get)
when it worked, or with the page again, the form still filled in and the reason in plain
words, when it did not. Add funds carries an idempotency key made when the page was drawn,
so a form sent twice charges once. The services decide who may do what; the pages only
leave out the buttons a viewer could not use.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from ..errors import CommCreditsError
from ..payments.sandbox import TEST_CARDS, brand_of
from ..services import balances, funds, payment_methods, receipts, recharge_settings
from ..services import tenants as tenant_svc
from .forms import done, flash, problem
from .receipts import render_html, render_pdf
from .render import page, sentence, words
from .session import FormDep, TenantPage, ViewDep

router = APIRouter(prefix="/t/{tid}")
Field = Annotated[str, Form()]

DONE = {
    "funds": "Funds added. The new credit lot is listed below.",
    "auto_recharge": "Auto-recharge settings saved.",
    "card_added": "Card saved.",
    "card_removed": "Card removed.",
}


def billing_page(p: TenantPage, *, status: int = 200, error: dict[str, Any] | None = None,
                 form: dict[str, str] | None = None, done_code: str = "") -> Response:
    rt, who, tid, currency = p.rt, p.who, p.tenant.id, p.tenant.currency
    bal = balances.balance_view(rt, who, tid)
    recharge = recharge_settings.settings_view(rt, who, tid) if p.can_billing else dict(bal["auto_recharge"])
    cards = payment_methods.list_payment_methods(rt, who, tid) if p.can_billing else []
    limits = rt.purchase_limits(currency)
    return page("billing.html", status, **p.context(
        "billing", bal=bal, recharge=recharge, cards=cards, form=form or {}, error=error,
        txns=balances.transactions_view(rt, who, tid, cursor=None, limit=20)["items"],
        purchase=tenant_svc.purchase_status(rt, p.tenant), idempotency_key=uuid.uuid4().hex,
        minimum=balances.money(limits.minimum, currency), maximum=balances.money(limits.maximum, currency),
        flash=flash(done_code, DONE), has_deficit=any(c not in "0.-" for c in bal["deficit"]),
    ))


@router.get("/billing")
def billing(p: ViewDep, done: str = "") -> Response:
    return billing_page(p, done_code=done)


@router.post("/billing/funds")
def add_funds(p: FormDep, amount: Field = "", payment_method_id: Field = "", idempotency_key: Field = "") -> Response:
    form = {"amount": amount, "payment_method_id": payment_method_id}
    try:
        status, body = funds.add_funds(p.rt, p.who, p.tenant.id, amount=amount.strip(),
                                       payment_method_id=payment_method_id,
                                       idempotency_key=idempotency_key or uuid.uuid4().hex)
    except CommCreditsError as exc:
        return billing_page(p, status=exc.status, error=problem("Add funds", exc), form=form)
    if status >= 400:
        error = {"where": "Add funds", "title": body["title"], "detail": sentence(body["detail"]),
                 "code": body["code"], "reason": None}
        return billing_page(p, status=status, error=error, form=form)
    return done(p, "billing", "funds")


@router.post("/billing/auto-recharge")
def save_auto_recharge(p: FormDep, enabled: Field = "", amount: Field = "", trigger: Field = "",
                       payment_method_id: Field = "") -> Response:
    form = {"ar_enabled": enabled, "ar_amount": amount, "ar_trigger": trigger, "ar_card": payment_method_id}
    try:
        recharge_settings.save_settings(p.rt, p.who, p.tenant.id, enabled=enabled == "on",
                                        amount=amount.strip() or None, trigger=trigger.strip() or None,
                                        payment_method_id=payment_method_id or None)
    except CommCreditsError as exc:
        return billing_page(p, status=exc.status, error=problem("Auto-recharge", exc), form=form)
    return done(p, "billing", "auto_recharge", "#auto-recharge")


def cards_page(p: TenantPage, *, status: int = 200, error: dict[str, Any] | None = None,
               form: dict[str, str] | None = None, done_code: str = "") -> Response:
    cards = payment_methods.list_payment_methods(p.rt, p.who, p.tenant.id)
    recharge = recharge_settings.settings_view(p.rt, p.who, p.tenant.id)
    test_cards = [{"number": n, "brand": brand_of(n), "outcome": words(charge) or "succeeds"}
                  for n, (_, charge) in TEST_CARDS.items()] if p.rt.gateway.name == "sandbox" else []
    return page("payment_methods.html", status, **p.context(
        "cards", cards=cards, recharge=recharge, test_cards=test_cards, form=form or {}, error=error,
        flash=flash(done_code, DONE),
    ))


@router.get("/payment-methods")
def cards(p: ViewDep, done: str = "") -> Response:
    return cards_page(p, done_code=done)


@router.post("/payment-methods")
def add_card(p: FormDep, card_number: Field = "", exp_month: Field = "", exp_year: Field = "",
             cvc: Field = "") -> Response:
    form = {"exp_month": exp_month, "exp_year": exp_year}  # the card number is never echoed back
    try:
        payment_methods.add_payment_method(p.rt, p.who, p.tenant.id, card_number="".join(card_number.split()),
                                           exp_month=exp_month, exp_year=exp_year, cvc=cvc.strip())
    except CommCreditsError as exc:
        return cards_page(p, status=exc.status, error=problem("Add a card", exc), form=form)
    return done(p, "payment-methods", "card_added")


@router.post("/payment-methods/{pmid}/remove")
def remove_card(p: FormDep, pmid: str) -> Response:
    try:
        payment_methods.remove_payment_method(p.rt, p.who, p.tenant.id, pmid)
    except CommCreditsError as exc:
        return cards_page(p, status=exc.status, error=problem("Remove card", exc))
    return done(p, "payment-methods", "card_removed")


@router.get("/receipts/{rid}")
def receipt(p: ViewDep, rid: str, format: str = "html") -> Response:
    r = receipts.get_receipt(p.rt, p.who, p.tenant.id, rid)
    if format == "pdf":
        return Response(render_pdf(r), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{r.number}.pdf"'})
    # the receipt document styles itself inline, so it gets a policy of its own
    return Response(render_html(r), media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
