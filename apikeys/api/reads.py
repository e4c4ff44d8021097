"""What a signed API view reads besides its key: the account's domains, as JSON text.

On PostgreSQL each read is a select-list expression or two, evaluated in the key's own
statement (apikeys/api/lookup.py): the database writes the answer's JSON itself, so the view
does no ORM or serialisation work at all. row_to_json keeps the select list's order
(jsonb would sort the keys) and writes compactly; string_agg joins the rows without the
line breaks json_agg puts between them. On other databases the same JSON text is made
with the ORM and json.dumps, once the key has passed.

The account is named by an SQL reference to the key owner's account (lookup.OWNER_ACCOUNT),
so a key can never read another account's domains.
"""

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from django.db import connection
from django.db.models import QuerySet

from accounts.models import Domain

# The fields of a domain in the API's answers, in their order there.
FIELDS = ("id", "name", "status", "note")
BIGINT_MAX = 2**63 - 1

T = TypeVar("T", covariant=True)


class Read(Protocol, Generic[T]):
    def select(self, account: str) -> tuple[list[str], list[object]]:
        """PostgreSQL: the select-list expressions and their parameters, in text order."""
        ...

    def from_columns(self, values: Sequence[Any]) -> T:
        """The result, from the values those expressions produced."""
        ...

    def with_orm(self, account_id: int) -> T:
        """The same result through the ORM, on any database."""
        ...


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(name: str) -> str:
    field = next(f for f in Domain._meta.concrete_fields if f.name == name)
    return _q(field.column)


def _rows(account: str, where: str = "", tail: str = "") -> str:
    """The account's domains as rows of the API's fields, named as the API names them."""
    columns = ", ".join(f"d.{_column(f)} AS {_q(f)}" for f in FIELDS)
    account_column = _column("account")
    return (
        f"SELECT {columns} FROM {_q(Domain._meta.db_table)} d"
        f" WHERE d.{account_column} = {account}{where}{tail}"
    )


_ORDER = f"{_q('name')}, {_q('id')}"  # by name, as the portal lists them; id breaks ties


def _array(rows: str) -> str:
    return (
        "(SELECT coalesce('[' || string_agg(row_to_json(p)::text, ','"
        f" ORDER BY p.{_q('name')}, p.{_q('id')}) || ']', '[]') FROM ({rows}) p)"
    )


def _domains(account_id: int) -> "QuerySet[Domain]":
    return Domain.objects.filter(account_id=account_id).order_by("name", "id")


def _dumps(value: object) -> str:
    # As PostgreSQL writes it: no spaces, non-ASCII characters as they are.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# Each read's SQL is made once per account reference: only parameters change per request.


@functools.cache
def _list_sql(account: str) -> list[str]:
    return [_array(_rows(account))]


@functools.cache
def _page_sql(account: str) -> list[str]:
    count = f"(SELECT count(*) FROM ({_rows(account)}) c)"
    page = _array(_rows(account, tail=f" ORDER BY {_ORDER} LIMIT %s OFFSET %s"))
    return [count, page]


@functools.cache
def _one_sql(account: str) -> list[str]:
    row = _rows(account, where=f" AND d.{_column('id')} = %s")
    return [f"(SELECT row_to_json(p)::text FROM ({row}) p)"]


class DomainList:
    """Every domain of the account (API v1), as a JSON array."""

    def select(self, account: str) -> tuple[list[str], list[object]]:
        return _list_sql(account), []

    def from_columns(self, values: Sequence[Any]) -> str:
        return str(values[0])

    def with_orm(self, account_id: int) -> str:
        return _dumps(list(_domains(account_id).values(*FIELDS)))


@dataclass(frozen=True)
class Page:
    number: int
    per_page: int
    total: int
    data: str  # a JSON array: the page's domains, empty past the end


@dataclass(frozen=True)
class DomainPage:
    """One page of the account's domains (API v4), with the count of them all."""

    number: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    def select(self, account: str) -> tuple[list[str], list[object]]:
        return _page_sql(account), [self.per_page, self.offset]

    def from_columns(self, values: Sequence[Any]) -> Page:
        return Page(self.number, self.per_page, int(values[0]), str(values[1]))

    def with_orm(self, account_id: int) -> Page:
        domains = _domains(account_id)
        total = domains.count()
        start = self.offset
        rows = list(domains.values(*FIELDS)[start : start + self.per_page]) if start < total else []
        return Page(self.number, self.per_page, total, _dumps(rows))


@dataclass(frozen=True)
class OneDomain:
    """One domain of the account by id, as a JSON object; None if the account has none."""

    pk: int

    def select(self, account: str) -> tuple[list[str], list[object]]:
        return _one_sql(account), [self.pk]

    def from_columns(self, values: Sequence[Any]) -> str | None:
        return None if values[0] is None else str(values[0])

    def with_orm(self, account_id: int) -> str | None:
        row = _domains(account_id).filter(pk=self.pk).values(*FIELDS).first()
        return None if row is None else _dumps(row)
