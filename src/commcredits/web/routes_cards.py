"""Billing > Payment methods (saved cards) and receipts.

A card already saved (same brand, last 4 digits and expiry) is refused with a message that
names it, so the auto-recharge list never shows two identical entries. The card
auto-recharge charges has no "Remove" button: the page says why and what to do instead.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from ..documents.receipts import render_html, render_pdf
from ..errors import CommCreditsError
from ..payments.sandbox import TEST_CARDS, brand_of
from ..services.ledger import receipts
from ..services.payments import payment_methods, recharge_settings
from .feedback import FormProblem, explain, form_error
from .render import page, words
from .session import FormDep, TenantPage, ViewDep

router = APIRouter(prefix="/t/{tid}")
Field = Annotated[str, Form()]
CARD_FIELDS = {"card_declined": "card-number", "incorrect_cvc": "card-cvc", "expired_card": "card-exp-year",
               "processing_error": "card-number", "insufficient_funds": "card-number", "exp_month": "card-exp-month",
               "exp_year": "card-exp-year"}
DONE = {"card_added": "Card saved.", "card_removed": "Card removed."}


def cards_page(p: TenantPage, *, status: int = 200, error: dict[str, Any] | None = None,
               form: dict[str, str] | None = None, done_code: str = "") -> Response:
    cards = payment_methods.list_payment_methods(p.rt, p.who, p.tenant.id)
    recharge = recharge_settings.settings_view(p.rt, p.who, p.tenant.id)
    test_cards = [{"number": n, "brand": brand_of(n), "outcome": words(charge) or "succeeds"}
                  for n, (_, charge) in TEST_CARDS.items()] if p.rt.gateway.name == "sandbox" else []
    text = DONE.get(done_code)
    return page("payment_methods.html", status, **p.context(
        "cards", cards=cards, recharge=recharge, test_cards=test_cards, form=form or {}, error=error,
        flash={"text": text} if text else None,
    ))


@router.get("/payment-methods")
def cards(p: ViewDep, done: str = "") -> Response:
    return cards_page(p, done_code=done)


def _checked_card(p: TenantPage, number: str, month: str, year: str, cvc: str) -> tuple[str, int, int]:
    """The card form's values, or a FormProblem naming the field in plain words."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        raise FormProblem("card-number", "The card number is not right", "type the 12 to 19 digits on the card")
    if not month.isdigit() or not 1 <= int(month) <= 12:
        raise FormProblem("card-exp-month", "The expiry month is not right",
                          "type the month printed on the card, a number from 1 to 12")
    if not year.isdigit() or len(year) not in (2, 4):
        raise FormProblem("card-exp-year", "The expiry year is not right", "type the year on the card, such as 2030")
    if not cvc.isdigit() or len(cvc) not in (3, 4):
        raise FormProblem("card-cvc", "The security code is not right",
                          "type the 3 digits on the back of the card (4 on the front for American Express)")
    full_year = int(year) + 2000 if len(year) == 2 else int(year)
    for c in payment_methods.list_payment_methods(p.rt, p.who, p.tenant.id):
        if (c.brand, c.last4, c.exp_month, c.exp_year) == (brand_of(number), number[-4:], int(month), full_year):
            raise FormProblem("card-number", "This card is already saved",
                              f"{c.brand.capitalize()} ending in {c.last4}, expiring {c.exp_month:02d}/{c.exp_year}, "
                              "is in the list above; there is no need to save it twice")
    return number, int(month), full_year


@router.post("/payment-methods")
def add_card(p: FormDep, card_number: Field = "", exp_month: Field = "", exp_year: Field = "",
             cvc: Field = "") -> Response:
    form = {"exp_month": exp_month, "exp_year": exp_year}  # the card number is never echoed back
    try:
        number, month, year = _checked_card(p, "".join(card_number.split()), exp_month.strip(), exp_year.strip(),
                                            cvc.strip())
        payment_methods.add_payment_method(p.rt, p.who, p.tenant.id, card_number=number, exp_month=month,
                                           exp_year=year, cvc=cvc.strip())
    except FormProblem as exc:
        return cards_page(p, status=422, error=form_error("Add a card", exc), form=form)
    except CommCreditsError as exc:
        error = explain("Add a card", exc, CARD_FIELDS)
        if exc.status == 402:
            error["title"] = f"The card was not saved: {error['title'][0].lower()}{error['title'][1:]}"
        return cards_page(p, status=exc.status, error=error, form=form)
    return RedirectResponse(f"{p.url}/payment-methods?done=card_added#message", status_code=303)


@router.post("/payment-methods/{pmid}/remove")
def remove_card(p: FormDep, pmid: str) -> Response:
    try:
        payment_methods.remove_payment_method(p.rt, p.who, p.tenant.id, pmid)
    except CommCreditsError as exc:
        return cards_page(p, status=exc.status, error=explain("Remove a card", exc, {}))
    return RedirectResponse(f"{p.url}/payment-methods?done=card_removed#message", status_code=303)


@router.get("/receipts/{rid}")
def receipt(p: ViewDep, rid: str, format: str = "html") -> Response:
    r = receipts.get_receipt(p.rt, p.who, p.tenant.id, rid)
    seller = p.rt.settings
    if format == "pdf":
        return Response(render_pdf(r, seller, p.tenant.timezone), media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{r.number}.pdf"'})
    # the receipt document styles itself inline, so it gets a policy of its own
    back = f"{p.url}/transactions?type={r.kind}#txn-{r.transaction_id}"
    return Response(render_html(r, seller, p.tenant.timezone, back=back), media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
