"""The order-export importer, on rows made here and on a slice of the real export."""

from __future__ import annotations

import csv
import gzip
import itertools
from decimal import Decimal
from pathlib import Path

import pytest

from personalization.importer.transactions import (
    REQUIRED_COLUMNS,
    ImportFormatError,
    Limits,
    TransactionImporter,
    validate,
)
from personalization.pseudonym import pseudonymous_id
from personalization.settings import shared_datasets_dir
from personalization.store import Database

KEY = b"test-pseudonym-key-0123456789"
T = "2011-03-04 10:00:00+00:00"


def row(
    invoice="536365",
    code="85123A",
    desc="WHITE HEART",
    qty="6",
    at=T,
    price="2.55",
    customer="17850",
    country="United Kingdom",
) -> dict[str, str]:
    return dict(
        zip(REQUIRED_COLUMNS, (invoice, code, desc, qty, at, price, customer, country), strict=True)
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"customer": ""}, "missing customer id"),
        ({"customer": "17x50"}, "malformed customer id"),
        ({"qty": "0"}, "zero quantity"),
        ({"qty": "-3"}, "negative quantity outside a cancellation"),
        ({"invoice": "C536379", "qty": "2"}, "positive quantity in a cancellation"),
        ({"invoice": "A563185"}, "adjustment invoice (not an order or a cancellation)"),
        ({"code": "POST"}, "not a product (postage, fee, discount or manual adjustment)"),
        ({"qty": "80995"}, "outlier quantity"),
        ({"price": "38970.00"}, "outlier unit price"),
        ({"price": "0"}, "zero or negative unit price"),
        ({"price": "abc"}, "malformed unit price"),
        ({"qty": "six"}, "malformed quantity"),
        ({"at": "yesterday"}, "malformed invoice date"),
        ({"at": "2011-03-04 10:00:00"}, "invoice date without a time zone"),
        ({"invoice": ""}, "missing invoice number"),
    ],
)
def test_invalid_rows_are_rejected_with_their_reason(fields: dict, reason: str) -> None:
    assert validate(row(**fields), Limits()) == reason


def test_a_cancellation_becomes_returned_units() -> None:
    line = validate(row(invoice="C536391", qty="-12", customer="17548.0"), Limits())
    assert not isinstance(line, str)
    assert (line.is_return, line.quantity, line.customer_ref) == (True, 12, "17548")
    assert line.unit_price == Decimal("2.55")


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=REQUIRED_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


EXPORT = [
    row(invoice="100001", code="A1", qty="2", price="3.00"),
    row(invoice="100001", code="A2", qty="1", price="10.00"),
    row(invoice="100001", code="A2", qty="1", price="10.00"),  # exact duplicate
    row(invoice="100001", code="POST", qty="1", price="18.00"),  # postage
    row(invoice="100002", code="A1", qty="5", price="3.00", customer="12345", country="France"),
    row(invoice="100003", code="A3", qty="1", price="4.00", customer=""),  # no customer
    row(invoice="C100004", code="A1", qty="-1", price="3.00"),  # a return
    row(invoice="100005", code="A3", qty="0", price="4.00"),  # zero quantity
    row(invoice="100001", code="A3", qty="1", price="4.00"),  # the invoice again, later
]


def table_counts(db: Database) -> dict[str, int]:
    counts = {}
    with db.cursor() as cur:
        for table in ("customers", "products", "orders", "order_lines", "returns"):
            cur.execute(f"SELECT count(*) AS n FROM {table}")
            counts[table] = cur.fetchone()["n"]
    return counts


def test_import_writes_orders_returns_and_reports_rejects(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv.gz", EXPORT)
    rejects = tmp_path / "rejects.csv"
    report = TransactionImporter(db, KEY).import_file(path, rejects_path=rejects)

    assert report.rows_read == 9
    assert report.rows_imported == 5
    assert (report.orders, report.returns, report.customers) == (2, 1, 2), "100001 counts once"
    assert dict(report.rejected) == {
        "exact duplicate of an earlier row": 1,
        "not a product (postage, fee, discount or manual adjustment)": 1,
        "missing customer id": 1,
        "zero quantity": 1,
    }
    assert report.rejected_lines["missing customer id"] == [7], "line numbers count the header"
    rejected_rows = list(csv.reader(rejects.open()))
    assert rejected_rows[0][:2] == ["line", "reason"] and len(rejected_rows) == 5

    assert table_counts(db) == {
        "customers": 2,
        "products": 3,
        "orders": 2,
        "order_lines": 4,
        "returns": 1,
    }
    alice = pseudonymous_id(KEY, "online_retail", "17850")
    with db.cursor() as cur:
        cur.execute("SELECT customer_id, total FROM orders WHERE id = '100001'")
        order = cur.fetchone()
        cur.execute("SELECT quantity, customer_id FROM returns")
        returned = cur.fetchone()
        cur.execute("SELECT display_name, country FROM customers WHERE id = %s", (alice,))
        customer = cur.fetchone()
    assert order == {"customer_id": alice, "total": Decimal("20.00")}, "2×3 + 10 + 4 (late line)"
    assert returned == {"quantity": 1, "customer_id": alice}
    assert customer == {"display_name": None, "country": "United Kingdom"}
    assert dict(report.missing_fields) == {"CustomerID": 1}
    with db.cursor() as cur:
        cur.execute(
            "SELECT source, rows_read, rows_imported, rejected, missing_fields FROM import_runs"
        )
        runs = cur.fetchall()
    assert runs == [
        {
            "source": "orders.csv.gz",
            "rows_read": 9,
            "rows_imported": 5,
            "rejected": dict(report.rejected),
            "missing_fields": {"CustomerID": 1},
        }
    ]


def test_reimporting_the_same_file_changes_nothing(db: Database, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", EXPORT)
    TransactionImporter(db, KEY).import_file(path)
    before = table_counts(db)
    with db.cursor() as cur:
        cur.execute("SELECT id, total FROM orders ORDER BY id")
        totals = cur.fetchall()
    TransactionImporter(db, KEY).import_file(path)
    assert table_counts(db) == before
    with db.cursor() as cur:
        cur.execute("SELECT id, total FROM orders ORDER BY id")
        assert cur.fetchall() == totals


def test_ids_are_pseudonymous_and_keyed() -> None:
    one = pseudonymous_id(KEY, "online_retail", "17850")
    assert one.startswith("cust-") and "17850" not in one
    assert one == pseudonymous_id(KEY, "online_retail", "17850")
    assert one != pseudonymous_id(b"another-key-0123456789", "online_retail", "17850")


def test_a_file_of_another_shape_is_refused_before_anything_is_written(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "other.csv"
    path.write_text("id,name\n1,x\n")
    with pytest.raises(ImportFormatError, match="lacks the columns InvoiceNo"):
        TransactionImporter(db, KEY).import_file(path)
    assert table_counts(db)["orders"] == 0


def test_a_missing_file_is_a_clear_error(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="does not exist"):
        TransactionImporter(db, KEY).import_file(tmp_path / "nope.csv")


def shared_online_retail() -> Path:
    return shared_datasets_dir() / "online_retail" / "online_retail.csv.gz"


@pytest.mark.skipif(
    not shared_online_retail().exists(),
    reason="the real order export is not at $SHARED_DATASETS/online_retail/online_retail.csv.gz",
)
def test_a_slice_of_the_real_export(db: Database, tmp_path: Path) -> None:
    slice_path = tmp_path / "slice.csv.gz"
    with (
        gzip.open(shared_online_retail(), "rt", newline="") as source,
        gzip.open(slice_path, "wt", newline="") as out,
    ):
        out.writelines(itertools.islice(source, 20_001))  # header and 20,000 rows
    progress: list[tuple[int, int]] = []
    report = TransactionImporter(db, KEY).import_file(
        slice_path, progress=lambda done, total: progress.append((done, total))
    )
    assert report.rows_read == 20_000
    assert report.rejected["missing customer id"] > 0
    assert report.rejected["exact duplicate of an earlier row"] > 0
    assert report.returns > 0, "cancellations became returns"
    assert report.rows_imported + sum(report.rejected.values()) == report.rows_read
    assert progress[-1][0] == progress[-1][1], "progress reaches the end"
    counts = table_counts(db)
    assert counts["order_lines"] + counts["returns"] == report.rows_imported
    assert counts["orders"] == report.orders

    TransactionImporter(db, KEY).import_file(slice_path)
    assert table_counts(db) == counts, "idempotent on real data"
