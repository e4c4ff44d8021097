"""The API's addresses. Clients differ on trailing slashes, so each resource answers both
ways (no redirect); anything else under /api/ is a JSON 404, never the HTML page."""

from django.urls import path, re_path

from apikeys.api import exchange, records, views

app_name = "api"

urlpatterns = [
    path("v1/domains", views.v1_domains, name="v1-domains"),
    path("v1/domains/", views.v1_domains),
    path("v1/domains/<int:pk>", views.v1_domain, name="v1-domain"),
    path("v1/domains/<int:pk>/", views.v1_domain),
    path("v4/domains", views.v4_domains, name="v4-domains"),
    path("v4/domains/", views.v4_domains),
    path("v4/domains/<int:pk>", views.v4_domain, name="v4-domain"),
    path("v4/domains/<int:pk>/", views.v4_domain),
    # DNS records (records.py).
    path("v1/domains/<int:pk>/records", records.v1_records, name="v1-records"),
    path("v1/domains/<int:pk>/records/", records.v1_records),
    path(
        "v1/domains/<int:pk>/records/<str:rtype>",
        records.v1_records_of_type,
        name="v1-records-of-type",
    ),
    path("v1/domains/<int:pk>/records/<str:rtype>/", records.v1_records_of_type),
    path(
        "v1/domains/<int:pk>/records/<str:rtype>/<int:record_id>",
        records.v1_record,
        name="v1-record",
    ),
    path("v1/domains/<int:pk>/records/<str:rtype>/<int:record_id>/", records.v1_record),
    path("v4/domains/<int:pk>/records", records.v4_records, name="v4-records"),
    path("v4/domains/<int:pk>/records/", records.v4_records),
    path("v4/domains/<int:pk>/records/<int:record_id>", records.v4_record, name="v4-record"),
    path("v4/domains/<int:pk>/records/<int:record_id>/", records.v4_record),
    path("credentials/revoke", views.revoke_credentials, name="revoke-credentials"),
    path("credentials/revoke/", views.revoke_credentials),
    path("oidc/exchange", exchange.exchange, name="oidc-exchange"),
    path("oidc/exchange/", exchange.exchange),
    path("openapi.json", views.openapi_document, name="openapi"),
    re_path(r"^.*$", views.not_found),
]
