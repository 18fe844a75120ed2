"""`commcredits payments ...`: auto-recharge settings, saved cards and receipts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..services.access import tenants
from ..services.access.principal import OPERATOR
from ..services.ledger import receipts
from ..services.payments import payment_methods, recharge_settings
from ..views.ledger import receipt_page_out
from ..views.payments import recharge_settings_out
from .common import emit, friendly, runtime

payments_app = typer.Typer(help="Auto-recharge settings, saved cards and receipts.", no_args_is_help=True)


@payments_app.command("auto-recharge")
def auto_recharge(
    tenant_id: str,
    amount: Annotated[str | None, typer.Option(help='recharge amount, e.g. "100.00"')] = None,
    trigger: Annotated[str | None, typer.Option(help='recharge when the balance falls below, e.g. "50.00"')] = None,
    payment_method: Annotated[str | None, typer.Option(help="id of a saved card")] = None,
    enable: Annotated[bool | None, typer.Option("--enable/--disable", help="turn it on or off")] = None,
) -> None:
    """Show a tenant's auto-recharge, or change it with --enable/--disable and the options.

    Example: commcredits payments auto-recharge 6f1c...e2 --enable --amount 100.00 --trigger 50.00
    --payment-method 9a0b...
    """

    @friendly
    def run() -> None:
        rt = runtime()
        if enable is None and amount is None and trigger is None and payment_method is None:
            emit(recharge_settings_out(recharge_settings.settings_view(rt, OPERATOR, tenant_id)))
            return
        current = recharge_settings.settings_view(rt, OPERATOR, tenant_id).enabled
        emit(recharge_settings_out(recharge_settings.save_settings(
            rt, OPERATOR, tenant_id, enabled=current if enable is None else enable, amount=amount,
            trigger=trigger, payment_method_id=payment_method)))

    run()


@payments_app.command("update-card")
def update_card(tenant_id: str, payment_method: str, exp_month: int, exp_year: int) -> None:
    """Record a new expiry for a saved card (resumes a suspended auto-recharge on that card).

    Example: commcredits payments update-card 6f1c...e2 9a0b... 12 2031
    """

    @friendly
    def run() -> None:
        pm = payment_methods.update_payment_method(runtime(), OPERATOR, tenant_id, payment_method,
                                                   exp_month=exp_month, exp_year=exp_year)
        emit({"id": pm.id, "brand": pm.brand, "last4": pm.last4, "exp_month": pm.exp_month,
              "exp_year": pm.exp_year})

    run()


@payments_app.command("remove-card")
def remove_card(tenant_id: str, payment_method: str) -> None:
    """Remove a saved card (refused while auto-recharge charges it).

    Example: commcredits payments remove-card 6f1c...e2 9a0b...
    """

    @friendly
    def run() -> None:
        payment_methods.remove_payment_method(runtime(), OPERATOR, tenant_id, payment_method)
        emit({"removed": payment_method})

    run()


@payments_app.command("receipts")
def list_receipts(tenant_id: str, limit: int = 50) -> None:
    """List a tenant's receipts, newest first.

    Example: commcredits payments receipts 6f1c...e2 --limit 10
    """

    @friendly
    def run() -> None:
        emit(receipt_page_out(receipts.list_receipts(runtime(), OPERATOR, tenant_id, cursor=None, limit=limit)))

    run()


@payments_app.command("receipt")
def receipt(
    tenant_id: str, receipt_id: str,
    pdf: Annotated[Path | None, typer.Option(help="write the receipt as PDF to this file")] = None,
) -> None:
    """Print a receipt as HTML, or write it as PDF with --pdf.

    Example: commcredits payments receipt 6f1c...e2 3d4e... --pdf receipt.pdf
    """
    from ..documents.receipts import render_html, render_pdf

    @friendly
    def run() -> None:
        rt = runtime()
        found = receipts.get_receipt(rt, OPERATOR, tenant_id, receipt_id)
        zone = tenants.get_tenant(rt, OPERATOR, tenant_id).timezone  # as the web and API print it
        if pdf is None:
            typer.echo(render_html(found, rt.settings, zone))
            return
        pdf.write_bytes(render_pdf(found, rt.settings, zone))
        typer.echo(f"receipt {found.number} written to {pdf}")

    run()
