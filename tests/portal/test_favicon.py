"""The portal's icon: named by every page, so browsers stop asking for /favicon.ico (a 404
on every page)."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_every_page_names_the_portals_icon_and_it_exists(client, client_for, user):
    pages = [client.get("/accounts/signin/"), client_for(user).get("/")]
    for response in pages:
        found = re.search(
            r'<link rel="icon" href="/static/(portal/favicon\.svg)"', response.content.decode()
        )
        assert found, response.content.decode()[:600]
        assert finders.find(found.group(1))
