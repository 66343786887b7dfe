"""Schema versioning: a store made by another version is migrated or refused, never misread.

Each migration takes a store at version ``n`` to ``n + 1``. A store made by a newer
goodwill is refused with a message that names both versions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from goodwill.errors import SchemaVersionError
from goodwill.model import SCHEMA_VERSION

if TYPE_CHECKING:
    from goodwill.store.base import Store

Migration = Callable[["Store"], None]

# MIGRATIONS[n] upgrades a store from version n to n + 1.
MIGRATIONS: dict[int, Migration] = {}


def check_and_migrate(store: Store) -> None:
    fresh = not store.table_exists("goodwill_meta")
    if fresh:
        existing = [t for t in ("customers", "interactions") if store.table_exists(t)]
        if existing:
            raise SchemaVersionError(
                f"{store.url} holds tables ({', '.join(existing)}) but no goodwill version record.",
                hint="It was not made by goodwill: point --store at a new file or an empty schema.",
            )
        store.create_meta()  # type: ignore[attr-defined]
        store.set_meta("schema_version", str(SCHEMA_VERSION))
        return
    raw = store.get_meta("schema_version")
    version = int(raw) if raw is not None else 0
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{store.url} was made by a newer goodwill (schema version {version}; this one reads up to {SCHEMA_VERSION}).",
            hint="Upgrade goodwill (pip install -U goodwill) to open it.",
        )
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SchemaVersionError(
                f"{store.url} has schema version {version}, and no migration to {version + 1} exists.",
                hint="Re-create the store with `goodwill init` and ingest your sources again.",
            )
        with store.transaction():
            step(store)
            version += 1
            store.set_meta("schema_version", str(version))
