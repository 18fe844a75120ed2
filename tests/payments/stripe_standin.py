"""A local HTTP stand-in of the Stripe endpoints the adapter uses, on 127.0.0.1 and a random
port: PaymentMethods (create, update, detach), Customers (create) and PaymentIntents
(create with confirm). It answers like Stripe for its test card numbers, replays the first
response for a repeated Idempotency-Key, and records every request for the tests to read."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

# card number -> (error code, decline code) of a charge; None = succeeds
CARDS: dict[str, tuple[str, str | None] | None] = {
    "4242424242424242": None,
    "4000000000000002": ("card_declined", "generic_decline"),
    "4000000000009995": ("card_declined", "insufficient_funds"),
    "4000000000009987": ("card_declined", "lost_card"),
    "4000000000009979": ("card_declined", "stolen_card"),
    "4000000000000069": ("expired_card", None),
    "4000000000000127": ("incorrect_cvc", None),
    "4000000000000119": ("processing_error", None),
    "4000000000000341": ("card_declined", "generic_decline"),
    "4000000000000001": ("card_declined", "do_not_honor"),
}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class StripeStandIn:
    requests: list[Request] = field(default_factory=list)
    payment_methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    fail_with_500: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                status, body = standin.handle(Request("POST", self.path, dict(self.headers), form))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}"

    def handle(self, req: Request) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(req)
            if self.fail_with_500:
                self.fail_with_500 -= 1
                return 500, {"error": {"type": "api_error", "message": "stand-in outage"}}
            key = req.headers.get("Idempotency-Key")
            if key and key in self.replies:
                return self.replies[key]
            reply = self.route(req)
            if key and req.path == "/v1/payment_intents":
                self.replies[key] = reply
            return reply

    def route(self, req: Request) -> tuple[int, dict[str, Any]]:
        f, path = req.form, req.path
        if path == "/v1/payment_methods":
            number = f["card[number]"]
            if number not in CARDS:
                return 402, {"error": {"type": "card_error", "code": "incorrect_number",
                                       "message": "Your card number is incorrect."}}
            pm = {"id": self.new_id("pm"), "object": "payment_method", "type": "card", "number": number,
                  "card": {"brand": "visa", "last4": number[-4:], "exp_month": int(f["card[exp_month]"]),
                           "exp_year": int(f["card[exp_year]"])}}
            self.payment_methods[pm["id"]] = pm
            return 200, _public(pm)
        if path == "/v1/customers":
            self.payment_methods[f["payment_method"]]["customer"] = customer = self.new_id("cus")
            return 200, {"id": customer, "object": "customer"}
        if path.startswith("/v1/payment_methods/"):
            pm_id, _, action = path.removeprefix("/v1/payment_methods/").partition("/")
            pm = self.payment_methods[pm_id]
            if action == "detach":
                pm["customer"] = None
            else:
                pm["card"].update(exp_month=int(f["card[exp_month]"]), exp_year=int(f["card[exp_year]"]))
            return 200, _public(pm)
        if path == "/v1/payment_intents":
            return self.payment_intent(f)
        return 404, {"error": {"type": "invalid_request_error", "message": f"no route {path}"}}

    def payment_intent(self, f: dict[str, str]) -> tuple[int, dict[str, Any]]:
        pm = self.payment_methods[f["payment_method"]]
        assert f["confirm"] == "true" and f["off_session"] == "true" and f["customer"] == pm["customer"]
        outcome = CARDS[pm["number"]]
        intent = {"id": self.new_id("pi"), "object": "payment_intent", "amount": int(f["amount"]),
                  "currency": f["currency"], "customer": f["customer"], "payment_method": pm["id"],
                  "status": "succeeded" if outcome is None else "requires_payment_method"}
        self.intents[intent["id"]] = intent
        if outcome is None:
            return 200, intent
        code, decline = outcome
        error = {"type": "card_error", "code": code, "message": f"Your card was declined ({decline or code}).",
                 "payment_intent": intent}
        if decline:
            error["decline_code"] = decline
        return 402, {"error": error}

    def succeeded_total(self) -> int:
        return sum(i["amount"] for i in self.intents.values() if i["status"] == "succeeded")


def _public(pm: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in pm.items() if k != "number"}
