"""The parameters stored rows were made with: recorded by the first load, checked by every later one."""

from __future__ import annotations

from pipelines.storage.store import Store
from pipelines.tables import BY_NAME


def check_recorded(store: Store, table: str, column: str, key: str, what: str) -> None:
    """Record `key` in a one-row state table the first time; refuse a load whose key differs from the stored one.

    Rows made with other parameters (signatures, terms, groupings) would be compared with the new ones as if
    they were alike; the message names both keys, so the user can rebuild or keep the old settings.
    """
    if table not in BY_NAME or column.strip() != column or not column.isidentifier():
        raise ValueError(f"unknown state {table}.{column}")
    stored = store.con.execute(f"SELECT {column} FROM {table}").fetchall()
    if not stored:
        store.con.execute(f"INSERT INTO {table} VALUES (?)", [key])
    elif stored[0][0] != key:
        raise RuntimeError(
            f"stored {what} were made with {stored[0][0]}, this code uses {key}; rebuild them before loading"
        )
