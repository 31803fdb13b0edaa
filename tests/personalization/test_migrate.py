from __future__ import annotations

import threading

import pytest

from personalization.settings import DatabaseSettings
from personalization.store import Database
from personalization.store.migrate import (
    Migration,
    MigrationError,
    applied_versions,
    available_migrations,
    migrate,
)


def test_available_migrations_are_numbered_without_gaps() -> None:
    versions = [m.version for m in available_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_migrate_creates_the_schema_and_records_it(empty_database_url: str) -> None:
    db = Database(DatabaseSettings(url=empty_database_url))
    try:
        applied = migrate(db)
        assert [m.version for m in applied] == [m.version for m in available_migrations()]
        assert applied_versions(db) == [m.version for m in available_migrations()]
        with db.cursor() as cur:
            cur.execute("SELECT to_regclass('customers') IS NOT NULL AS present")
            assert cur.fetchone()["present"]
    finally:
        db.close()


def test_migrate_twice_applies_nothing_the_second_time(db: Database) -> None:
    assert migrate(db) == []


def test_concurrent_migrations_apply_each_file_once(empty_database_url: str) -> None:
    results: list[list[Migration]] = []
    errors: list[BaseException] = []

    def run() -> None:
        db = Database(DatabaseSettings(url=empty_database_url))
        try:
            results.append(migrate(db))
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, 0, len(available_migrations())]


def test_an_edited_migration_is_refused(db: Database) -> None:
    with db.cursor() as cur:
        cur.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(db)
