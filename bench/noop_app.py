"""The reference for bench/authorize.py: a stock FastAPI app, served by uvicorn exactly as the
product is, whose call-control endpoints do nothing but answer (the same pydantic-validated
bodies, plain `def` endpoints, the default response encoding). The bench drives it with the
same load generator and reports the product's pairs/s as a ratio of this one's."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class AuthorizeBody(BaseModel):
    tenant_id: str
    call_id: str
    call_type: str
    caller: str = ""
    callee: str
    user_id: str | None = None


class EndBody(BaseModel):
    duration_seconds: int


@app.post("/v1/calls/authorize")
def authorize(body: AuthorizeBody) -> dict[str, object]:
    return {"call_id": body.call_id, "decision": "allow", "reason": "credits", "max_seconds": 60,
            "funding": "credits", "reservation": None, "currency": "USD"}


@app.post("/v1/calls/{call_id}/end")
def end(call_id: str, body: EndBody) -> dict[str, object]:
    return {"call_id": call_id, "duration_seconds": body.duration_seconds, "status": "charged", "charge": "0.00"}
