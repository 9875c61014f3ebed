"""Health, OpenAPI and login against a real App Server on each backend."""

from __future__ import annotations

import httpx

from printwarden.testing.inprocess import InProcessAppServer


def test_health_answers_without_a_token(
    anonymous: httpx.Client, app_server: InProcessAppServer
) -> None:
    response = anonymous.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] in {"sqlite", "postgresql"}
    assert app_server.database_url.split(":")[0].startswith(body["database"][:6])


def test_openapi_document_lists_the_api(
    anonymous: httpx.Client, app_server: InProcessAppServer
) -> None:
    with app_server.client(under="") as http:
        document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/jobs/decision" in document["paths"]
    assert "/api/v1/jobs/printed" in document["paths"]
