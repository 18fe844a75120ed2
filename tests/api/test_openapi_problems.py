"""The OpenAPI document declares the problem+json errors every operation can give, and a
405 names every method the path answers."""

from __future__ import annotations


def test_every_operation_declares_its_problems(api) -> None:
    doc = api.client.get("/openapi.json").json()
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail", "code"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    assert len(operations) > 40
    for path, method, op in operations:
        for status in ("401", "403", "404", "409", "422"):
            content = op["responses"][status]["content"]
            assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, (
                method, path, status)
    funds = doc["paths"]["/v1/tenants/{tid}/funds"]["post"]["responses"]
    assert "application/problem+json" in funds["402"]["content"]


def test_a_wrong_method_is_405_with_allow(api) -> None:
    tid = api.tenant()
    r = api.call("DELETE", "/v1/tenants")
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    assert r.headers["content-type"] == "application/problem+json" and r.json()["code"] == "method_not_allowed"
    assert api.call("PUT", f"/v1/tenants/{tid}").headers["allow"] == "GET, PATCH"
    assert api.call("POST", "/healthz").headers["allow"] == "GET"
