"""How use-case results look as JSON: the one serializer of each shape, shared by the edges.

Services return typed values (frozen dataclasses, the domain's own types, `Money`); the API
(`api/`), the admin pages (`web/`) and the command line (`cli/`) alone turn them into JSON,
HTML and text. Where two edges show the same JSON (the API's answer and the CLI's `emit`, or
a web page that renders the API's shape), its serializer lives here, once, so the two
cannot drift apart: money becomes a decimal string with the currency's minor units
(`str(Money)`, `format_micros`), instants become `iso` strings, and optional fields are
present or absent exactly as API.md says.

This package sits between the services and the edges: it imports services' result types,
the domain and the row types of `db`, never `api`, `web` or `cli`, and no service imports it
(tests/test_architecture.py); it does no I/O.

    ledger    credits, balances, journals, receipts, spend controls
    payments  payment methods, auto-recharge settings
    billing   subscriptions, statements
    tenants   purchase status, issued tokens
    notify    notifications, webhooks, deliveries
    usage     the PSTN usage report page, the admin center's usage overview, funding advice
    rating    a tenant's price list (JSON page and CSV), re-rating reports
    jobs      a run of the due jobs, a move of the sandbox clock
"""
