"""Prebuilt statements run straight on the DB-API cursor, for the statements every request makes.

SQLAlchemy Core spends 60–200 µs of Python per `Connection.execute` (building and coercing the statement, its
cache key, the execution context, event dispatch, result metadata) on top of the driver's own ~15 µs. On the hot
paths (a user by id, a user's methods, an enrollment's inserts and conditional updates) that overhead was most
of the CPU. A `RawStatement` compiles its statement once per dialect with SQLAlchemy and keeps the SQL text,
the parameter order, and the column types' own bind and result processors; then it runs on the connection's
DB-API cursor. Same SQL, same transaction (the connection's), same values in and out as through SQLAlchemy
(SQLite's text dates and JSON included).

The hottest paths skip the SQLAlchemy `Connection` too: `Database.raw_read()` and `Database.raw_write()` hand out a
`RawConnection` (the DB-API connection and its dialect), which every method here accepts in place of a
`Connection`. A store takes either; its methods that still build statements per call need a `Connection`
(`sqlalchemy_connection`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import ClauseElement
from sqlalchemy.sql.selectable import Select

__all__ = ["Connectable", "RawConnection", "RawStatement", "sqlalchemy_connection"]

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    compiled: Any  # the SQLAlchemy Compiled, for construct_params (literal values in the statement)
    names: tuple[str, ...]  # bind names in the order of a positional paramstyle, or all names for a named one
    positional: bool
    binders: tuple[tuple[str, Processor], ...]
    keys: tuple[str, ...]  # result columns (SELECT only)
    results: tuple[tuple[int, Processor], ...]


@dataclass(frozen=True, slots=True)
class RawConnection:
    """A DB-API connection and the dialect whose SQL it speaks (`Database.raw_read()`)."""

    dbapi: Any
    dialect: Dialect


Connectable = Connection | RawConnection


def sqlalchemy_connection(conn: Connectable) -> Connection:
    """The SQLAlchemy `Connection` a store method needs when it builds its statement per call (the rarely used
    ones); a `RawConnection` has none, and using one there is a programming error."""
    if isinstance(conn, RawConnection):
        raise TypeError("this store method needs a SQLAlchemy Connection (Database.read() or write())")
    return conn


class RawStatement:
    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        key = f"{dialect.name}+{dialect.driver}"
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        compiled: Any = self._statement.compile(dialect=dialect)
        binders = []
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binders.append((name, processor))
        keys: tuple[str, ...] = ()
        results = []
        if isinstance(self._statement, Select):
            columns = list(self._statement.selected_columns)
            keys = tuple(str(c.key) for c in columns)
            for index, column in enumerate(columns):
                processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if processor is not None:
                    results.append((index, processor))
        positional = bool(compiled.positional)
        plan = _Plan(
            sql=str(compiled),
            compiled=compiled,
            names=tuple(compiled.positiontup if positional else compiled.binds),
            positional=positional,
            binders=tuple(binders),
            keys=keys,
            results=tuple(results),
        )
        self._plans[key] = plan
        return plan

    def _run(self, conn: Connectable, params: Mapping[str, Any]) -> tuple[_Plan, Any]:
        plan = self._plan(conn.dialect)
        values = plan.compiled.construct_params(params)
        for name, processor in plan.binders:
            values[name] = processor(values[name])
        arguments: Any = tuple(values[n] for n in plan.names) if plan.positional else values
        dbapi = conn.dbapi if isinstance(conn, RawConnection) else conn.connection.dbapi_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        try:
            cursor.execute(plan.sql, arguments)
        except BaseException:
            cursor.close()
            raise
        return plan, cursor

    def rows(self, conn: Connectable, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """A SELECT's rows, as dicts of column key → processed value."""
        plan = self._plan(conn.dialect)
        return [self._decode(plan, row) for row in self.tuples(conn, params)]

    def tuples(self, conn: Connectable, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """A SELECT's rows as the driver returns them, before any result processor (`decode` applies them)."""
        _plan, cursor = self._run(conn, params or {})
        try:
            rows: list[tuple[Any, ...]] = cursor.fetchall()  # both drivers return plain tuples
            return rows
        finally:
            cursor.close()

    def decode(self, dialect: Dialect, row: tuple[Any, ...]) -> dict[str, Any]:
        """One row of `tuples` as `rows` would have returned it."""
        return self._decode(self._plan(dialect), row)

    @staticmethod
    def _decode(plan: _Plan, row: tuple[Any, ...]) -> dict[str, Any]:
        values = list(row)
        for index, processor in plan.results:
            values[index] = processor(values[index])
        return dict(zip(plan.keys, values, strict=True))

    def execute(self, conn: Connectable, params: Mapping[str, Any] | None = None) -> int:
        """An INSERT, UPDATE or DELETE; the number of rows it touched."""
        _plan, cursor = self._run(conn, params or {})
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()
