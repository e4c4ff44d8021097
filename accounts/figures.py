"""Figures that apps above accounts show beside each user on the Users pages.

accounts knows nothing of those apps: each registers its figures when Django starts (in its
AppConfig.ready). A registration annotates the users query, names the table columns that
show the annotations, and gives a template of facts (<dt>/<dd> pairs) for a user's page, so
the whole page is still one query for the users, however many apps add to it.
"""

from collections.abc import Callable
from dataclasses import dataclass

import django_tables2 as tables
from django.db.models import QuerySet

from accounts.models import User


@dataclass(frozen=True)
class UserFigures:
    annotate: Callable[[QuerySet[User]], QuerySet[User]]
    # Fresh columns for each table: (name, column), shown before the Active column.
    columns: Callable[[], list[tuple[str, tables.Column]]]
    facts_template: str
    note: str = ""


_registered: list[UserFigures] = []


def register(figures: UserFigures) -> None:
    _registered.append(figures)


def annotate(users: QuerySet[User]) -> QuerySet[User]:
    for figures in _registered:
        users = figures.annotate(users)
    return users


def columns() -> list[tuple[str, tables.Column]]:
    return [column for figures in _registered for column in figures.columns()]


def facts_templates() -> list[str]:
    return [figures.facts_template for figures in _registered]


def notes() -> list[str]:
    return [figures.note for figures in _registered if figures.note]
