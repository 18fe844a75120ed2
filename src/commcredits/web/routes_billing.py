"""Billing > Communications Credits: balance, lots, recent transactions, Add funds and the
auto-recharge settings.

Every action is a form POST answered with a redirect back to its page (post/redirect/get)
when it worked, or with the page again, the form still filled in and the reason next to its
field, when it did not. Add funds carries an idempotency key made when the page was drawn,
so a form sent twice charges once. The services decide who may do what; the pages only
leave out the buttons a viewer could not use.

Auto-recharge never charges unannounced: when saving would charge the card at once (the
balance is below the new trigger), the first POST only shows what will happen and asks
again with a "Save and charge ... now" button; after saving, the message at the top says
what was charged.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from ..domain.money import Money, MoneyError, minor_units, parse_micros
from ..domain.recharge import recharge_amount
from ..errors import CommCreditsError
from ..formatting import money
from ..services.access import tenants as tenant_svc
from ..services.ledger import balances, funds, transaction_pages
from ..services.payments import payment_methods, recharge_settings
from ..services.payments.recharge_settings import RechargeSettings, RechargeSummary
from .amounts import AmountFormatError, example, normalise_amount
from .feedback import FormProblem, explain, form_error
from .render import page
from .session import FormDep, TenantPage, ViewDep

router = APIRouter(prefix="/t/{tid}")
Field = Annotated[str, Form()]

FUNDS_FIELDS = {"amount": "funds-amount", "below_minimum": "funds-amount", "above_maximum": "funds-amount",
                "validation_error": "funds-amount", "card_declined": "funds-card", "expired_card": "funds-card",
                "insufficient_funds": "funds-card", "incorrect_cvc": "funds-card", "processing_error": "funds-card",
                "not_found": "funds-card"}
RECHARGE_FIELDS = {"amount": "ar-amount", "trigger": "ar-trigger", "below_minimum": "ar-amount",
                   "above_maximum": "ar-amount", "validation_error": "ar-amount", "not_found": "ar-card"}


def billing_page(p: TenantPage, *, status: int = 200, error: dict[str, Any] | None = None,
                 form: dict[str, str] | None = None, done_code: str = "",
                 confirm: dict[str, str] | None = None) -> Response:
    rt, who, tid, currency = p.rt, p.who, p.tenant.id, p.tenant.currency
    bal = balances.balance_view(rt, who, tid)
    recharge = recharge_settings.settings_view(rt, who, tid) if p.can_billing else bal.auto_recharge
    cards = payment_methods.list_payment_methods(rt, who, tid) if p.can_billing else []
    limits = rt.purchase_limits(currency)
    txns = transaction_pages.transactions_page(rt, who, tid, kind=None, start=None, end=None, cursor=None,
                                               limit=10).items
    return page("billing.html", status, **p.context(
        "billing", bal=bal, recharge=recharge, cards=cards, form=form or {}, error=error, confirm=confirm,
        txns=txns, purchase=tenant_svc.purchase_status(rt, p.tenant), idempotency_key=uuid.uuid4().hex,
        minimum=Money(limits.minimum, currency), maximum=Money(limits.maximum, currency),
        flash=_flash(done_code, recharge), has_deficit=bal.has_deficit,
        example=example(p.tenant.country), lot_receipts=transaction_pages.lot_receipts(rt, who, tid),
    ))


def _flash(code: str, recharge: RechargeSummary) -> dict[str, str] | None:
    if code == "funds":
        return {"text": "Funds added. The new credit lot is listed below."}
    if code == "auto_recharge":
        return {"text": "Auto-recharge settings saved. Nothing was charged."}
    last = recharge.last_attempt if isinstance(recharge, RechargeSettings) else None
    if code == "auto_recharge_charged" and last:
        outcome = "the charge succeeded" if last.status == "succeeded" else f"the charge {last.status}"
        return {"text": f"Auto-recharge settings saved. Because the balance was below the trigger, the card was "
                        f"charged {money(last.amount)} at once: {outcome}."}
    return None


@router.get("/billing")
def billing(p: ViewDep, done: str = "") -> Response:
    return billing_page(p, done_code=done)


def typed_amount(p: TenantPage, text: str, field: str, what: str, *, required: bool) -> str | None:
    """The amount a person typed, in the API's grammar; None when empty and not required."""
    country, currency = p.tenant.country, p.tenant.currency
    try:
        if len(text) > 40:
            raise AmountFormatError(text[:40])
        value = normalise_amount(text.strip(), country)
        if value:
            parse_micros(value, max_decimals=minor_units(currency))
    except (AmountFormatError, MoneyError) as exc:
        if isinstance(exc, MoneyError) and exc.too_many_decimals:
            raise FormProblem(field, f"The {what} has too many decimals",
                              f"{currency} amounts have at most {minor_units(currency)} decimals") from None
        raise FormProblem(field, f"The {what} is not an amount",
                          f"type the {what} in digits, such as {example(country)} or 1000") from None
    if not value:
        if required:
            raise FormProblem(field, f"The {what} is missing", f"enter the {what}, such as {example(country)}")
        return None
    return value


@router.post("/billing/funds")
def add_funds(p: FormDep, amount: Field = "", payment_method_id: Field = "", idempotency_key: Field = "") -> Response:
    form = {"amount": amount, "payment_method_id": payment_method_id}
    try:
        value = typed_amount(p, amount, "funds-amount", "amount", required=True)
        funds.add_funds(p.rt, p.who, p.tenant.id, amount=value, payment_method_id=payment_method_id,
                        idempotency_key=idempotency_key or uuid.uuid4().hex)
    except FormProblem as exc:
        return billing_page(p, status=422, error=form_error("Add funds", exc), form=form)
    except CommCreditsError as exc:  # a declined card too, also when replayed by its idempotency key
        return billing_page(p, status=exc.status, error=explain("Add funds", exc, FUNDS_FIELDS), form=form)
    return RedirectResponse(f"{p.url}/billing?done=funds#message", status_code=303)


@router.post("/billing/auto-recharge")
def save_auto_recharge(p: FormDep, enabled: Field = "", amount: Field = "", trigger: Field = "",
                       payment_method_id: Field = "", charge_now: Field = "") -> Response:
    form = {"ar_enabled": enabled, "ar_amount": amount, "ar_trigger": trigger, "ar_card": payment_method_id}
    on = enabled == "on"
    try:
        value = typed_amount(p, amount, "ar-amount", "recharge amount", required=on)
        level = typed_amount(p, trigger, "ar-trigger", "trigger", required=on)
        if on and charge_now != "yes":
            due = _charge_on_save(p, value, level)
            if due:
                return billing_page(p, form=form, confirm=due)
        before = recharge_settings.settings_view(p.rt, p.who, p.tenant.id).last_attempt
        after = recharge_settings.save_settings(p.rt, p.who, p.tenant.id, enabled=on, amount=value, trigger=level,
                                                payment_method_id=payment_method_id or None)
    except FormProblem as exc:
        return billing_page(p, status=422, error=form_error("Auto-recharge", exc), form=form)
    except CommCreditsError as exc:
        return billing_page(p, status=exc.status, error=explain("Auto-recharge", exc, RECHARGE_FIELDS), form=form)
    charged = after.last_attempt is not None and after.last_attempt.id != (before.id if before else None)
    code = "auto_recharge_charged" if charged else "auto_recharge"
    return RedirectResponse(f"{p.url}/billing?done={code}#message", status_code=303)


def _charge_on_save(p: TenantPage, amount: str | None, trigger: str | None) -> dict[str, str] | None:
    """What saving these settings would charge at once, or None. Values the service will
    refuse are left to it (it says why)."""
    balance = balances.balance_view(p.rt, p.who, p.tenant.id).balance
    try:
        micros, level = parse_micros(amount or "", max_decimals=6), parse_micros(trigger or "", max_decimals=6)
    except MoneyError:
        return None
    due = recharge_amount(balance.micros, level, micros) if micros > 0 else 0
    if not due:
        return None
    currency = p.tenant.currency
    return {"amount": money(Money(due, currency)), "balance": money(balance),
            "trigger": money(Money(level, currency))}
