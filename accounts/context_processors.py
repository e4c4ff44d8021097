from collections.abc import Callable

from django.http import HttpRequest

from accounts.two_factor import session


def second_step(request: HttpRequest) -> dict[str, Callable[[], str | None]]:
    """`pending_second_step` for the frame, which shows a session that owes its second step
    no menu to pages it cannot open. Called by the template only where it is used, so pages
    rendered without the database (errors) never ask."""
    return {"pending_second_step": lambda: session.pending_step(request)}
