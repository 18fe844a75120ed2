"""Credits, balances, journals, receipts and spend controls as JSON (API.md "Funds",
"Balance", "Transactions", "Receipts", "Spend controls", "Purchase limits").

The API answers with these and `commcredits funds|payments|spend-controls|purchase-limits`
prints the same JSON. Money is the `Money`'s decimal string (`Money.text`), instants `iso`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..db.receipts import Receipt
from ..db.spend_controls import FIELDS
from ..domain.money import Money
from ..formatting import iso
from ..services.ledger.balances import BalanceView, JournalLine, JournalPage, LotView
from ..services.ledger.funds import Credit, credit_json
from ..services.ledger.receipts import ReceiptPage
from ..services.ledger.spend_controls import ControlsView, LimitsView
from .payments import recharge_summary_out


def _text(amount: Money | None) -> str | None:
    return None if amount is None else amount.text


def credit_out(credit: Credit) -> dict[str, Any]:
    """A purchase (`receipt_id`) or a grant (`reason`): the lot, its amount and expiry, and
    the balance after (the very JSON an Idempotency-Key stores)."""
    return credit_json(credit)


def lot_out(lot: LotView) -> dict[str, Any]:
    return {"id": lot.id, "source": lot.source, "amount": lot.amount.text, "remaining": lot.remaining.text,
            "purchased_at": iso(lot.purchased_at), "expires_at": iso(lot.expires_at), "status": lot.status}


def balance_out(view: BalanceView) -> dict[str, Any]:
    return {
        "tenant_id": view.tenant_id, "currency": view.currency, "balance": view.balance.text,
        "reserved": view.reserved.text, "available": view.available.text, "deficit": view.deficit.text,
        "billing_mode": view.billing_mode, "as_of": iso(view.as_of), "lots": [lot_out(lot) for lot in view.lots],
        "auto_recharge": recharge_summary_out(view.auto_recharge),
    }


def journal_line_out(line: JournalLine) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(line.id), "type": line.type, "amount": line.amount.text, "balance_after": line.balance_after.text,
        "currency": line.amount.currency, "created_at": iso(line.created_at), "reference": line.reference,
    }
    if line.has_receipt:
        out["receipt_id"] = line.receipt_id
    return out


def journal_page_out(page: JournalPage) -> dict[str, Any]:
    return {"items": [journal_line_out(line) for line in page.items], "next_cursor": page.next_cursor}


def _receipt_time(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")  # receipts show whole seconds (as issued, in UTC)


def receipt_out(r: Receipt) -> dict[str, Any]:
    return {
        "id": r.id, "number": r.number, "kind": r.kind, "issued_at": _receipt_time(r.issued_at),
        "amount": Money(r.amount, r.currency).text, "currency": r.currency,
        "card": {"brand": r.card_brand, "last4": r.card_last4}, "tenant_name": r.tenant_name,
        "transaction_id": str(r.transaction_id), "charge_ref": r.charge_ref,
    }


def receipt_page_out(page: ReceiptPage) -> dict[str, Any]:
    return {"items": [receipt_out(r) for r in page.items], "next_cursor": page.next_cursor}


def controls_out(view: ControlsView) -> dict[str, Any]:
    """The spend controls: money fields as decimal strings (null = no limit), the policy, the
    velocity limit, the currency and the recent changes."""
    out: dict[str, Any] = {}
    for field in FIELDS:
        value = getattr(view, field)
        out[field] = _text(value) if isinstance(value, Money) or value is None else str(value)
    out["max_auto_recharges_per_day"] = view.max_auto_recharges_per_day
    out["currency"] = view.currency
    out["changes"] = [{"field": c.field, "user_id": c.user_id, "old": c.old_value, "new": c.new_value,
                       "changed_by": c.changed_by, "changed_at": iso(c.changed_at)} for c in view.changes]
    return out


def limits_out(view: LimitsView) -> dict[str, Any]:
    return {"currency": view.currency, "minimum": view.minimum.text, "maximum": view.maximum.text,
            "source": view.source}
