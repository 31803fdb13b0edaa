"""Import an order export (the shape of the UCI Online Retail data) into the profile store.

The file is streamed: rows are validated one by one, grouped by invoice and written in
batches, so memory stays flat whatever the file size. A row that fails validation is counted
under its reason (and written to an optional rejects file) and never stops the import.
Re-running the same file changes nothing: every write is an upsert keyed by the invoice and
the line's position within it.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

import psycopg2.extras

from personalization.catalogue import categorise
from personalization.pseudonym import pseudonymous_id
from personalization.store import Database

log = logging.getLogger(__name__)

SOURCE = "online_retail"
REQUIRED_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
# Stock codes that are postage, fees, discounts or manual adjustments, not products.
NON_PRODUCT_CODES = frozenset(
    {"POST", "DOT", "M", "m", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS"}
)


class ImportFormatError(ValueError):
    """The file is not an order export of the expected shape; nothing was imported."""


@dataclass(frozen=True)
class Limits:
    """Values beyond these are data-entry errors in this kind of shop, not real orders."""

    max_quantity: int = 10_000
    max_unit_price: Decimal = Decimal("5000")


@dataclass(frozen=True)
class Line:
    invoice: str
    stock_code: str
    description: str
    quantity: int  # positive; a cancellation's quantity is stored as returned units
    unit_price: Decimal
    at: datetime
    customer_ref: str
    country: str

    @property
    def is_return(self) -> bool:
        return self.invoice.startswith("C")


@dataclass
class ImportReport:
    rows_read: int = 0
    rows_imported: int = 0
    orders: int = 0
    returns: int = 0
    customers: int = 0
    products: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_lines: dict[str, list[int]] = field(default_factory=dict)
    missing_fields: Counter[str] = field(default_factory=Counter)  # empty cells per column
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0

    def reject(self, reason: str, line_number: int) -> None:
        self.rejected[reason] += 1
        examples = self.rejected_lines.setdefault(reason, [])
        if len(examples) < 5:
            examples.append(line_number)

    def as_dict(self) -> dict[str, object]:
        return {
            "rows_read": self.rows_read,
            "rows_imported": self.rows_imported,
            "rows_rejected": sum(self.rejected.values()),
            "orders": self.orders,
            "returns": self.returns,
            "customers": self.customers,
            "products": self.products,
            "rejected_by_reason": dict(self.rejected.most_common()),
            "rejected_example_lines": self.rejected_lines,
            "missing_fields": dict(self.missing_fields.most_common()),
            "seconds": round(self.seconds, 2),
            "rows_per_second": round(self.rows_per_second),
        }


def validate(row: dict[str, str], limits: Limits) -> Line | str:
    """The parsed line, or the reason it is rejected."""
    invoice = (row.get("InvoiceNo") or "").strip()
    if not invoice:
        return "missing invoice number"
    if invoice[0].isalpha() and invoice[0] != "C":
        return "adjustment invoice (not an order or a cancellation)"
    if not invoice.lstrip("C").isdigit():
        return "malformed invoice number"
    customer_ref = (row.get("CustomerID") or "").strip()
    if customer_ref.endswith(".0"):
        customer_ref = customer_ref[:-2]
    if not customer_ref:
        return "missing customer id"
    if not customer_ref.isdigit():
        return "malformed customer id"
    stock_code = (row.get("StockCode") or "").strip()
    if not stock_code:
        return "missing stock code"
    if stock_code in NON_PRODUCT_CODES:
        return "not a product (postage, fee, discount or manual adjustment)"
    try:
        quantity = int((row.get("Quantity") or "").strip())
    except ValueError:
        return "malformed quantity"
    if quantity == 0:
        return "zero quantity"
    is_return = invoice.startswith("C")
    if quantity < 0 and not is_return:
        return "negative quantity outside a cancellation"
    if quantity > 0 and is_return:
        return "positive quantity in a cancellation"
    if abs(quantity) > limits.max_quantity:
        return "outlier quantity"
    try:
        unit_price = Decimal((row.get("UnitPrice") or "").strip())
    except InvalidOperation:
        return "malformed unit price"
    if not unit_price.is_finite() or unit_price <= 0:
        return "zero or negative unit price"
    if unit_price > limits.max_unit_price:
        return "outlier unit price"
    try:
        at = datetime.fromisoformat((row.get("InvoiceDate") or "").strip())
    except ValueError:
        return "malformed invoice date"
    if at.tzinfo is None:
        return "invoice date without a time zone"
    return Line(
        invoice=invoice,
        stock_code=stock_code.upper(),
        description=" ".join((row.get("Description") or "").split()) or stock_code,
        quantity=abs(quantity),
        unit_price=unit_price.quantize(Decimal("0.01")),
        at=at,
        customer_ref=customer_ref,
        country=(row.get("Country") or "").strip(),
    )


def _open_text(path: Path) -> tuple[IO[str], Callable[[], int]]:
    """The file as text, and a function giving how many bytes of it were read so far."""
    raw = open(path, "rb")  # noqa: SIM115 - closed with the text wrapper
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="")
    return text, raw.tell


def _invoices(
    reader: csv.DictReader, report: ImportReport, limits: Limits, rejects: csv.writer | None
) -> Iterator[tuple[str, list[Line]]]:
    """Valid lines grouped by invoice, with exact duplicate rows of an invoice removed."""
    current: str | None = None
    lines: list[Line] = []
    seen_rows: set[tuple[str, ...]] = set()
    for row in reader:
        report.rows_read += 1
        line_number = reader.line_num
        invoice = (row.get("InvoiceNo") or "").strip()
        if invoice != current:
            if lines:
                yield current, lines  # type: ignore[misc]
            current, lines, seen_rows = invoice, [], set()
        key = tuple(row.get(column) or "" for column in REQUIRED_COLUMNS)
        report.missing_fields.update(
            c for c, v in zip(REQUIRED_COLUMNS, key, strict=True) if not v.strip()
        )
        if key in seen_rows:
            parsed: Line | str = "exact duplicate of an earlier row"
        else:
            seen_rows.add(key)
            parsed = validate(row, limits)
        if isinstance(parsed, str):
            report.reject(parsed, line_number)
            if rejects is not None:
                rejects.writerow([line_number, parsed, *key])
            continue
        lines.append(parsed)
    if lines:
        yield current, lines  # type: ignore[misc]


def _checked_reader(text: IO[str], path: Path) -> csv.DictReader:
    """A CSV reader over ``text`` whose header has every column the import needs."""
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames or []
    except (OSError, EOFError, csv.Error) as exc:
        raise ImportFormatError(f"{path} cannot be read as CSV: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ImportFormatError(
            f"{path} lacks the columns {', '.join(missing)}; expected {', '.join(REQUIRED_COLUMNS)}"
        )
    return reader


def _rejects_writer(files: ExitStack, path: Path | None) -> csv.writer | None:
    """A CSV writer for rejected rows (closed with ``files``), or None without a path."""
    if path is None:
        return None
    out = files.enter_context(open(path, "w", newline=""))  # noqa: SIM115 - closed by files
    rejects = csv.writer(out)
    rejects.writerow(["line", "reason", *REQUIRED_COLUMNS])
    return rejects


@dataclass
class _Seen:
    """What the import has written so far, across batches: an invoice split over the file
    continues its line numbers, and the report counts each customer, product and invoice
    once."""

    report: ImportReport = field(default_factory=ImportReport)
    customers: set[str] = field(default_factory=set)
    products: set[str] = field(default_factory=set)
    invoices: set[str] = field(default_factory=set)
    next_line_no: dict[str, int] = field(default_factory=dict)

    def first_line_no(self, invoice: str, lines: int) -> int:
        first = self.next_line_no.get(invoice, 1)
        self.next_line_no[invoice] = first + lines
        return first

    def finish(self, seconds: float) -> ImportReport:
        report = self.report
        report.customers, report.products = len(self.customers), len(self.products)
        report.orders = sum(1 for invoice in self.invoices if not invoice.startswith("C"))
        report.returns = len(self.invoices) - report.orders
        report.seconds = seconds
        return report


@dataclass
class _Rows:
    """One batch of invoices as the rows of each table."""

    customers: dict[str, tuple[str, str]] = field(default_factory=dict)
    products: dict[str, tuple[str, Decimal]] = field(default_factory=dict)
    orders: list[tuple[Any, ...]] = field(default_factory=list)
    order_lines: list[tuple[Any, ...]] = field(default_factory=list)
    returns: list[tuple[Any, ...]] = field(default_factory=list)

    @classmethod
    def of(cls, batch: list[tuple[str, list[Line]]], key: bytes, seen: _Seen) -> _Rows:
        rows = cls()
        for invoice, lines in batch:
            rows.add_invoice(invoice, lines, key, seen.first_line_no(invoice, len(lines)))
            seen.invoices.add(invoice)
            seen.report.rows_imported += len(lines)
        seen.customers.update(rows.customers)
        seen.products.update(rows.products)
        return rows

    def add_invoice(self, invoice: str, lines: list[Line], key: bytes, first_line_no: int) -> None:
        customer_id = pseudonymous_id(key, SOURCE, lines[0].customer_ref)
        self.customers[customer_id] = (customer_id, lines[0].country)
        for offset, line in enumerate(lines):
            self.products[line.stock_code] = (line.description, line.unit_price)
            row = (invoice, first_line_no + offset)
            if line.is_return:
                self.returns.append(
                    (*row, customer_id, line.stock_code, line.quantity, line.unit_price, line.at)
                )
            else:
                self.order_lines.append((*row, line.stock_code, line.quantity, line.unit_price))
        if not lines[0].is_return:
            total = sum((line.quantity * line.unit_price for line in lines), Decimal(0))
            self.orders.append((invoice, customer_id, lines[0].at, lines[0].country, total))

    def store(self, cur: Any) -> None:
        psycopg2.extras.execute_values(
            cur,
            """INSERT INTO customers (id, country) VALUES %s
               ON CONFLICT (id) DO UPDATE SET country = EXCLUDED.country
               WHERE customers.country IS DISTINCT FROM EXCLUDED.country""",
            list(self.customers.values()),
        )
        psycopg2.extras.execute_values(
            cur,
            """INSERT INTO products (stock_code, description, category, unit_price) VALUES %s
               ON CONFLICT (stock_code) DO UPDATE
               SET description = EXCLUDED.description, category = EXCLUDED.category,
                   unit_price = EXCLUDED.unit_price, updated_at = now()
               WHERE (products.description, products.category, products.unit_price)
                     IS DISTINCT FROM
                     (EXCLUDED.description, EXCLUDED.category, EXCLUDED.unit_price)""",
            [(code, d, categorise(d), p) for code, (d, p) in self.products.items()],
        )
        for sql, rows in (
            (
                """INSERT INTO orders (id, customer_id, ordered_at, country, total) VALUES %s
                   ON CONFLICT (id) DO NOTHING""",
                self.orders,
            ),
            (
                """INSERT INTO order_lines (order_id, line_no, stock_code, quantity, unit_price)
                   VALUES %s ON CONFLICT (order_id, line_no) DO NOTHING""",
                self.order_lines,
            ),
            (
                """INSERT INTO returns (invoice_id, line_no, customer_id, stock_code,
                                        quantity, unit_price, returned_at)
                   VALUES %s ON CONFLICT (invoice_id, line_no) DO NOTHING""",
                self.returns,
            ),
        ):
            if rows:
                psycopg2.extras.execute_values(cur, sql, rows)


class TransactionImporter:
    def __init__(
        self,
        db: Database,
        pseudonym_key: bytes,
        limits: Limits | None = None,
        batch_invoices: int = 500,
    ) -> None:
        self._db = db
        self._key = pseudonym_key
        self._limits = limits or Limits()
        self._batch_invoices = batch_invoices

    def import_file(
        self,
        path: Path,
        rejects_path: Path | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        """Import `path` (CSV, optionally gzipped); `progress(bytes_read, bytes_total)`."""
        if not path.is_file():
            raise ImportFormatError(f"{path} does not exist or is not a file")
        started = time.monotonic()
        total_bytes = path.stat().st_size
        seen = _Seen()
        with ExitStack() as files:
            text, bytes_read = _open_text(path)
            files.callback(text.close)
            reader = _checked_reader(text, path)
            rejects = _rejects_writer(files, rejects_path)

            def batch_written() -> None:
                if progress:
                    progress(bytes_read(), total_bytes)

            try:
                self._import_invoices(reader, rejects, seen, batch_written)
            except (OSError, EOFError, csv.Error) as exc:
                raise ImportFormatError(
                    f"{path} is damaged after {seen.report.rows_read} rows ({exc}); the "
                    "invoices before that point were imported, and re-running is safe"
                ) from exc
            self._recompute_order_totals()
            if progress:
                progress(total_bytes, total_bytes)
        report = seen.finish(time.monotonic() - started)
        log.info(
            "imported %d of %d rows in %.1fs",
            report.rows_imported,
            report.rows_read,
            report.seconds,
        )
        self._record_run(path.name, report)
        return report

    def _import_invoices(
        self,
        reader: csv.DictReader,
        rejects: csv.writer | None,
        seen: _Seen,
        batch_written: Callable[[], None],
    ) -> None:
        """Valid invoices, written `batch_invoices` at a time."""
        batch: list[tuple[str, list[Line]]] = []
        for invoice, lines in _invoices(reader, seen.report, self._limits, rejects):
            batch.append((invoice, lines))
            if len(batch) >= self._batch_invoices:
                self._write(batch, seen)
                batch = []
                batch_written()
        self._write(batch, seen)

    def _record_run(self, source: str, report: ImportReport) -> None:
        """Keep what the import rejected and what was missing, for the data-quality view."""
        with self._db.cursor() as cur:
            cur.execute(
                """INSERT INTO import_runs
                       (source, rows_read, rows_imported, rejected, missing_fields)
                   VALUES (%s, %s, %s, %s, %s)""",
                (
                    source,
                    report.rows_read,
                    report.rows_imported,
                    psycopg2.extras.Json(dict(report.rejected)),
                    psycopg2.extras.Json(dict(report.missing_fields)),
                ),
            )

    def _recompute_order_totals(self) -> None:
        """Totals from the stored lines: an invoice split across the file adds up correctly."""
        with self._db.cursor() as cur:
            cur.execute(
                """UPDATE orders SET total = sums.total
                   FROM (SELECT order_id, sum(quantity * unit_price) AS total
                         FROM order_lines GROUP BY order_id) AS sums
                   WHERE orders.id = sums.order_id AND orders.total IS DISTINCT FROM sums.total"""
            )

    def _write(self, batch: list[tuple[str, list[Line]]], seen: _Seen) -> None:
        if not batch:
            return
        rows = _Rows.of(batch, self._key, seen)
        with self._db.cursor() as cur:
            rows.store(cur)
