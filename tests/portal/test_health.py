import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_json(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_cache(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_readyz_says_when_the_cache_is_down(client, monkeypatch):
    from portal import views

    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(views.cache, "set", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "cache": "unavailable"}
