"""Per-turn store lookups at scale: 1 million customers in a scratch database.

Run:  eval "$(make -s env)" && .venv/bin/python -m benchmarks.store_lookups [--customers N]

It creates a database beside the one in DATABASE_URL, applies the migrations, fills it on the
server with generate_series (customers, orders, order lines, interactions, segments, consent),
then times the lookups one conversation turn makes, for random customers, and prints p50/p99.
The scratch database is dropped at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid

import psycopg2

from personalization.settings import DatabaseSettings
from personalization.store import Database
from personalization.store.migrate import migrate

LOOKUPS = {
    "profile by id": "SELECT * FROM customers WHERE id = %(id)s",
    "profile by email": "SELECT id FROM customers WHERE lower(email) = lower(%(email)s)",
    "consent": "SELECT personalization FROM consents WHERE customer_id = %(id)s",
    "segment": "SELECT segment, r_score, f_score, m_score FROM segment_assignments "
    "WHERE customer_id = %(id)s",
    "open/latest orders": "SELECT id, ordered_at, status, total FROM orders "
    "WHERE customer_id = %(id)s ORDER BY ordered_at DESC LIMIT 5",
    "order with lines": "SELECT o.id, l.stock_code, l.quantity FROM orders o "
    "JOIN order_lines l ON l.order_id = o.id WHERE o.id = %(order)s",
    "recent interactions": "SELECT kind, item_id FROM interactions WHERE customer_id = %(id)s "
    "ORDER BY occurred_at DESC LIMIT 20",
}

FILL = """
INSERT INTO customers (id, display_name, email, country)
  SELECT 'cust-' || lpad(n::text, 8, '0'), 'Customer ' || n, 'c' || n || '@example.com',
         (ARRAY['United Kingdom','Germany','France','EIRE','Spain'])[1 + n %% 5]
  FROM generate_series(1, %(customers)s) AS n;
INSERT INTO products (stock_code, description, unit_price)
  SELECT 'P' || n, 'PRODUCT ' || n, 1 + n %% 40 FROM generate_series(1, 4000) AS n;
INSERT INTO orders (id, customer_id, ordered_at, total)
  SELECT 'O' || n, 'cust-' || lpad((1 + n %% %(customers)s)::text, 8, '0'),
         timestamptz '2011-01-01' + (n %% 340) * interval '1 day', 10 + n %% 200
  FROM generate_series(1, %(orders)s) AS n;
INSERT INTO order_lines (order_id, line_no, stock_code, quantity, unit_price)
  SELECT 'O' || n, k, 'P' || (1 + (n * 7 + k) %% 4000), 1 + k, 2.5
  FROM generate_series(1, %(orders)s) AS n, generate_series(1, 2) AS k;
INSERT INTO interactions (customer_id, kind, item_id, occurred_at)
  SELECT 'cust-' || lpad((1 + n %% %(customers)s)::text, 8, '0'),
         (ARRAY['view','purchase','recommendation_shown'])[1 + n %% 3], 'P' || (1 + n %% 4000),
         timestamptz '2011-01-01' + (n %% 340) * interval '1 day'
  FROM generate_series(1, %(interactions)s) AS n;
INSERT INTO segment_assignments (customer_id, segment, cluster, r_score, f_score, m_score,
                                 recency_days, frequency, monetary, model_version)
  SELECT id, 'Loyal', 1, 3, 3, 3, 10, 3, 100, 'bench' FROM customers;
INSERT INTO consents (customer_id, personalization)
  SELECT id, true FROM customers WHERE right(id, 1) = '7';
ANALYZE;
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000, help="lookups per query")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    admin_url = DatabaseSettings.from_env().url
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(admin_url)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg2.extensions.parse_dsn(admin_url)
    dsn["dbname"] = name
    url = psycopg2.extensions.make_dsn(**dsn)
    try:
        db = Database(DatabaseSettings(url=url, statement_timeout_ms=600_000))
        migrate(db)
        sizes = {
            "customers": args.customers,
            "orders": 3 * args.customers,
            "interactions": 5 * args.customers,
        }
        started = time.monotonic()
        with db.cursor() as cur:
            cur.execute(FILL, sizes)
        print(f"filled {sizes} in {time.monotonic() - started:.0f}s")
        db.close()

        conn = psycopg2.connect(url)
        conn.autocommit = True
        rng = random.Random(1)
        print(f"{'lookup':<22}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        with conn.cursor() as cur:
            for label, query in LOOKUPS.items():
                timings = []
                for _ in range(args.samples):
                    n = rng.randint(1, args.customers)
                    params = {
                        "id": f"cust-{n:08d}",
                        "email": f"C{n}@example.com",
                        "order": f"O{rng.randint(1, sizes['orders'])}",
                    }
                    t = time.perf_counter()
                    cur.execute(query, params)
                    cur.fetchall()
                    timings.append((time.perf_counter() - t) * 1000)
                print(
                    f"{label:<22}{statistics.median(timings):>9.3f}"
                    f"{percentile(timings, 0.99):>9.3f}{max(timings):>9.3f}"
                )
        conn.close()
    finally:
        if not args.keep:
            admin.cursor().execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
