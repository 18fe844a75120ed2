"""Auto-recharge settings as JSON (API.md "Auto-recharge"): the summary the balance shows,
and the settings endpoint's answer with the last attempt. `commcredits payments
auto-recharge` prints the same JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..domain.money import Money
from ..formatting import iso
from ..services.payments.recharge_settings import RechargeAttempt, RechargeSettings, RechargeSummary


def _text(amount: Money | None) -> str | None:
    return None if amount is None else amount.text


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else iso(instant)


def recharge_summary_out(s: RechargeSummary) -> dict[str, Any]:
    return {"enabled": s.enabled, "status": s.status, "amount": _text(s.amount), "trigger": _text(s.trigger),
            "payment_method_id": s.payment_method_id, "currency": s.currency, "failures": s.failures,
            "next_retry_at": _iso(s.next_retry_at), "in_flight": s.in_flight}


def recharge_attempt_out(a: RechargeAttempt) -> dict[str, Any]:
    return {"id": a.id, "status": a.status, "amount": a.amount.text, "error_code": a.error_code,
            "created_at": iso(a.created_at), "completed_at": _iso(a.completed_at),
            "transaction_id": str(a.transaction_id) if a.transaction_id else None}


def recharge_settings_out(s: RechargeSettings) -> dict[str, Any]:
    return {**recharge_summary_out(s),
            "last_attempt": None if s.last_attempt is None else recharge_attempt_out(s.last_attempt)}
