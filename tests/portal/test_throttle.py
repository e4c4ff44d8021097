"""portal/lib/throttle.py: a code is never checked uncounted."""

import pytest

from portal.lib import throttle


def test_a_code_is_refused_when_the_cache_fails_the_reservation(monkeypatch):
    monkeypatch.setattr(throttle, "counting", lambda: True)  # the ping answered
    monkeypatch.setattr(throttle, "_reserve", lambda counts: throttle.UNRESERVED)
    monkeypatch.setattr(throttle, "_over", lambda counts: False)
    checked = []

    with pytest.raises(throttle.Refused) as refused:
        throttle.check(throttle.code("uma@acme.example", "203.0.113.7"), lambda: checked.append(1))

    assert str(refused.value) == throttle.UNCOUNTED
    assert checked == []
