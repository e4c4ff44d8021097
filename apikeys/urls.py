"""The portal's pages for API keys. The signed API's addresses are apikeys/api/urls.py."""

from django.urls import path

from apikeys.views import (
    api_help,
    delete,
    edit,
    expiry,
    generate,
    inventory,
    policy,
    profile,
    roll,
    trusts,
)

app_name = "apikeys"

urlpatterns = [
    path("profile/", profile.profile, name="profile"),
    path("profile/keys/generate/", generate.generate, name="generate"),
    path("profile/keys/view/", profile.view_keys, name="view"),
    path("profile/keys/hide/", profile.hide, name="hide"),
    path("profile/keys/<uuid:key>/delete/", delete.delete, name="delete"),
    path("profile/keys/<uuid:key>/expiry/", expiry.expiry, name="expiry"),
    path("profile/keys/<uuid:key>/edit/", edit.edit, name="edit"),
    path("profile/keys/<uuid:key>/roll/", roll.roll, name="roll"),
    path("profile/api/", api_help.api_help, name="api_help"),
    path("keys/", inventory.key_list, name="inventory"),
    path("keys/delete/", inventory.delete, name="inventory-delete"),
    path("keys/policy/", policy.policy, name="policy"),
    path("keys/ci/", trusts.trust_list, name="trusts"),
    path("keys/ci/add/", trusts.trust_add, name="trust-add"),
    path("keys/ci/<int:pk>/", trusts.trust_edit, name="trust-edit"),
    path("keys/ci/<int:pk>/delete/", trusts.trust_delete, name="trust-delete"),
]
