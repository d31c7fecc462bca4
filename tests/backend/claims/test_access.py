"""Every route that returns claim data: 401 without credentials, 404 for another
policyholder's claim (never revealing that it exists)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.backend.claims.conftest import PNG, report, upload

CLAIM_ROUTES = [
    ("GET", "/api/v1/claims/{n}", None),
    ("POST", "/api/v1/claims/{n}/documents/{d}/attach", {"item_code": "invoice"}),
    ("POST", "/api/v1/claims/{n}/withdraw", {"reason": "x"}),
    ("POST", "/api/v1/claims/{n}/approve", {"amount": "1.00"}),
    ("POST", "/api/v1/claims/{n}/partially-approve", {"amount": "1.00", "reason": "x"}),
    ("POST", "/api/v1/claims/{n}/reject", {"reason": "x"}),
    ("POST", "/api/v1/claims/{n}/request-documents", {"items": ["invoice"], "reason": "x"}),
    ("POST", "/api/v1/claims/{n}/mark-paid", {}),
    ("POST", "/api/v1/claims/{n}/close", {}),
    ("POST", "/api/v1/claims/{n}/reopen", {"reason": "x"}),
    ("POST", "/api/v1/claims/{n}/rejection-notice", {"channel": "letter"}),
]
CUSTOMER_ROUTES = CLAIM_ROUTES[:3]


def test_every_route_of_one_claim_is_checked_here(client: TestClient) -> None:
    """A new route on a claim cannot slip past the access tests above and below."""
    checked = {
        (m, p.replace("{n}", "{claim_number}").replace("{d}", "{document_id}"))
        for m, p, _ in CLAIM_ROUTES
    }
    served = {
        (method, route.path)
        for route in client.app.routes  # type: ignore[attr-defined]
        if getattr(route, "path", "").startswith("/api/v1/claims/{claim_number}")
        for method in getattr(route, "methods", ())
    }
    multipart = {("POST", "/api/v1/claims/{claim_number}/documents")}  # its own test below
    unchecked = served - checked - multipart
    assert not unchecked, f"routes with no access test: {sorted(unchecked)}"


def test_no_credentials_gets_401_everywhere(client: TestClient, zhang: dict[str, str]) -> None:
    n = report(client, zhang).json()["claim_number"]
    d = upload(client, zhang, PNG + b"a")
    routes = [
        *CLAIM_ROUTES,
        ("GET", "/api/v1/claims", None),
        ("POST", "/api/v1/claims", {}),
        ("POST", "/api/v1/claims/check", {}),
        ("GET", "/api/v1/stats", None),
        ("GET", "/api/v1/me", None),
        ("GET", "/api/v1/documents/{d}/content", None),
    ]
    for method, path, body in routes:
        url = path.format(n=n, d=d)
        for headers in ({}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic eDp5"}):
            r = client.request(method, url, json=body, headers=headers)
            assert r.status_code == 401, (method, url, headers, r.status_code)
            assert r.json()["error"]["code"] == "unauthorized"


def test_another_customers_claim_is_not_found(
    client: TestClient, zhang: dict[str, str], li: dict[str, str]
) -> None:
    n = report(client, zhang).json()["claim_number"]
    d = upload(client, li, PNG + b"b")
    for method, path, body in CUSTOMER_ROUTES:
        r = client.request(method, path.format(n=n, d=d), json=body, headers=li)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "not_found"
    # ...and exactly the same answer as for a claim that does not exist at all.
    missing = client.get("/api/v1/claims/CL209901010001", headers=li)
    assert (
        missing.status_code == 404
        and missing.json() == client.get(f"/api/v1/claims/{n}", headers=li).json()
    )
    # Listing shows only one's own claims.
    assert client.get("/api/v1/claims", headers=li).json()["items"] == []
    assert [
        c["claim_number"] for c in client.get("/api/v1/claims", headers=zhang).json()["items"]
    ] == [n]


def test_customer_cannot_use_staff_routes(client: TestClient, zhang: dict[str, str]) -> None:
    n = report(client, zhang).json()["claim_number"]
    for method, path, body in CLAIM_ROUTES[3:]:
        r = client.request(method, path.format(n=n, d="x"), json=body, headers=zhang)
        assert r.status_code == 403, path


def test_staff_tokens_expire_and_wrong_passwords_fail(
    client: TestClient, adjuster: dict[str, str], settings
) -> None:  # type: ignore[no-untyped-def]
    import jwt

    bad = client.post("/api/v1/staff/login", json={"username": "adj1", "password": "wrong"})
    assert bad.status_code == 401
    expired = jwt.encode(
        {"sub": "adj1", "role": "adjuster", "exp": 1},
        settings.jwt_secret.get_secret_value(),
        "HS256",
    )
    r = client.get("/api/v1/claims", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    forged_role = jwt.encode(
        {"sub": "adj1", "role": "admin", "exp": 4102444800},
        settings.jwt_secret.get_secret_value(),
        "HS256",
    )
    assert (
        client.get("/api/v1/claims", headers={"Authorization": f"Bearer {forged_role}"}).status_code
        == 401
    )
    assert client.get("/api/v1/claims", headers=adjuster).status_code == 200


def test_multipart_upload_onto_a_claim_checks_who_sends_it(
    client: TestClient, zhang: dict[str, str], li: dict[str, str], adjuster: dict[str, str]
) -> None:
    n = report(client, zhang).json()["claim_number"]
    url = f"/api/v1/claims/{n}/documents"
    form = {"item_code": "invoice"}
    for headers in ({}, {"Authorization": "Bearer forged"}):
        r = client.post(url, headers=headers, files={"file": ("a.png", PNG + b"c")}, data=form)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = client.post(url, headers=li, files={"file": ("a.png", PNG + b"d")}, data=form)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    view = client.get(f"/api/v1/claims/{n}", headers=adjuster).json()
    assert view["documents"] == [] and "invoice" in [m["code"] for m in view["missing"]]
