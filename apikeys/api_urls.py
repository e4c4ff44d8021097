"""The API's addresses. Clients differ on trailing slashes, so each resource answers both
ways (no redirect); anything else under /api/ is a JSON 404, never the HTML page."""

from django.urls import path, re_path

from apikeys import api, exchange

app_name = "api"

urlpatterns = [
    path("v1/domains", api.v1_domains, name="v1-domains"),
    path("v1/domains/", api.v1_domains),
    path("v1/domains/<int:pk>", api.v1_domain, name="v1-domain"),
    path("v1/domains/<int:pk>/", api.v1_domain),
    path("v4/domains", api.v4_domains, name="v4-domains"),
    path("v4/domains/", api.v4_domains),
    path("v4/domains/<int:pk>", api.v4_domain, name="v4-domain"),
    path("v4/domains/<int:pk>/", api.v4_domain),
    path("credentials/revoke", api.revoke_credentials, name="revoke-credentials"),
    path("credentials/revoke/", api.revoke_credentials),
    path("oidc/exchange", exchange.exchange, name="oidc-exchange"),
    path("oidc/exchange/", exchange.exchange),
    path("openapi.json", api.openapi_document, name="openapi"),
    re_path(r"^.*$", api.not_found),
]
