from django.urls import path

from apikeys import inventory, policy, trust_views, views
from apikeys.api import api_help

app_name = "apikeys"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("profile/keys/generate/", views.generate, name="generate"),
    path("profile/keys/view/", views.view_keys, name="view"),
    path("profile/keys/hide/", views.hide, name="hide"),
    path("profile/keys/<uuid:key>/delete/", views.delete, name="delete"),
    path("profile/keys/<uuid:key>/expiry/", views.expiry, name="expiry"),
    path("profile/keys/<uuid:key>/edit/", views.edit, name="edit"),
    path("profile/keys/<uuid:key>/roll/", views.roll, name="roll"),
    path("profile/api/", api_help, name="api_help"),
    path("keys/", inventory.key_list, name="inventory"),
    path("keys/<uuid:key>/revoke/", inventory.revoke, name="revoke"),
    path("keys/revoke/", inventory.revoke_many, name="revoke-many"),
    path("keys/policy/", policy.policy, name="policy"),
    path("keys/ci/", trust_views.trust_list, name="trusts"),
    path("keys/ci/add/", trust_views.trust_add, name="trust-add"),
    path("keys/ci/<int:pk>/", trust_views.trust_edit, name="trust-edit"),
    path("keys/ci/<int:pk>/delete/", trust_views.trust_delete, name="trust-delete"),
]
