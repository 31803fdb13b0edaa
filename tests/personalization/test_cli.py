from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from personalization.auth.tokens import CustomerTokenVerifier
from personalization.demo_data import demo_order_id
from tests.conftest import PROJECT_ROOT

TOKEN_SECRET = "customer-token-secret-for-cli-tests-0123456789"
AUDIENCE = "hearth-home-support"
# Numbers the demo orders (and keys imported customers); not the key the other tests use.
PSEUDONYM_KEY = "cli-pseudonym-key-0123456789abcdef"


def run_cli(
    *args: str, database_url: str | None, timeout: int = 60, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    dropped = ("DATABASE_URL", "PSEUDONYM_KEY", "REDIS_URL")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in dropped and not k.startswith("CUSTOMER_TOKEN_")
    }
    env.update(extra_env)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env["DB_CONNECT_TIMEOUT_S"] = "2"
    return subprocess.run(
        [sys.executable, "-m", "personalization", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_migrate_then_demo_data_with_json_output(empty_database_url: str) -> None:
    migrated = run_cli("--json", "migrate", database_url=empty_database_url)
    assert migrated.returncode == 0, migrated.stderr
    assert json.loads(migrated.stdout)["applied"][0] == "0001_customers"

    without_key = run_cli("demo-data", "--customers", "12", database_url=empty_database_url)
    assert without_key.returncode == 2, "the order numbers are keyed"
    assert "PSEUDONYM_KEY" in without_key.stderr and "Traceback" not in without_key.stderr

    loaded = run_cli(
        "--json",
        "demo-data",
        "--customers",
        "12",
        database_url=empty_database_url,
        PSEUDONYM_KEY=PSEUDONYM_KEY,
    )
    assert loaded.returncode == 0, loaded.stderr
    result = json.loads(loaded.stdout)
    assert (result["customers_loaded"], result["customers_total"]) == (12, 12)
    assert result["products"] >= 50 and result["orders"] > 12
    assert result["help_articles_changed"] >= 30


def test_missing_database_url_is_a_usage_error() -> None:
    result = run_cli("migrate", database_url=None)
    assert result.returncode == 2
    assert "DATABASE_URL is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_exits_3_without_a_traceback() -> None:
    result = run_cli("migrate", database_url="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 3
    assert "cannot connect to PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands() -> None:
    result = run_cli("--help", database_url=None)
    assert result.returncode == 0
    assert "migrate" in result.stdout and "demo-data" in result.stdout


def test_import_transactions_reports_json_and_needs_a_pseudonym_key(
    database_url: str, tmp_path: Path
) -> None:
    export = tmp_path / "orders.csv"
    export.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00+00:00,2.55,17850,United Kingdom\n"
        "536366,22633,HAND WARMER,6,2010-12-01 08:28:00+00:00,1.85,,United Kingdom\n"
    )
    without_key = run_cli("import-transactions", str(export), database_url=database_url)
    assert without_key.returncode == 2
    assert "PSEUDONYM_KEY" in without_key.stderr

    result = run_cli(
        "--json",
        "import-transactions",
        str(export),
        "--rejects",
        str(tmp_path / "rej.csv"),
        database_url=database_url,
        PSEUDONYM_KEY="k" * 32,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["rows_read"], report["rows_imported"], report["orders"]) == (2, 1, 1)
    assert report["rejected_by_reason"] == {"missing customer id": 1}
    assert "missing customer id" in (tmp_path / "rej.csv").read_text()


def test_import_of_a_file_of_another_shape_exits_1(database_url: str, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    result = run_cli(
        "import-transactions", str(other), database_url=database_url, PSEUDONYM_KEY="k" * 32
    )
    assert result.returncode == 1
    assert "lacks the columns" in result.stderr and "Traceback" not in result.stderr


def test_export_and_erase_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    loaded = run_cli(
        "demo-data", "--customers", "5", database_url=database_url, PSEUDONYM_KEY=PSEUDONYM_KEY
    )
    assert loaded.returncode == 0, loaded.stderr
    exported = run_cli("export", "cust-0002", database_url=database_url)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["profile"]["display_name"] == "Bruno Keller"
    assert [o["id"] for o in data["orders"]] == [
        demo_order_id("cust-0002", n, PSEUDONYM_KEY.encode()) for n in range(1, 7)
    ], "numbered under the PSEUDONYM_KEY the command was given, oldest first"

    refused = run_cli("erase", "cust-0002", database_url=database_url)
    assert refused.returncode == 2 and "--yes" in refused.stderr, "no silent erasure"
    erased = run_cli("--json", "erase", "cust-0002", "--yes", database_url=database_url)
    assert erased.returncode == 0, erased.stderr
    report = json.loads(erased.stdout)
    assert report["erased"] is True and report["rows_deleted"]["customers"] == 1
    assert report["redis_keys_deleted"].startswith("not configured")

    again = run_cli("export", "cust-0002", database_url=database_url)
    assert again.returncode == 1 and "no customer cust-0002" in again.stderr


def test_token_prints_a_customer_token_the_channels_accept() -> None:
    result = run_cli("token", "cust-0001", database_url=None, CUSTOMER_TOKEN_SECRET=TOKEN_SECRET)
    assert result.returncode == 0, result.stderr
    [token] = result.stdout.split()
    verified = CustomerTokenVerifier(TOKEN_SECRET, "HS256", AUDIENCE).verify(token)
    assert verified.customer_id == "cust-0001"
    assert verified.expires_at - verified.issued_at == 900, "15 minutes unless asked"
    assert TOKEN_SECRET not in result.stdout + result.stderr


def test_token_lifetime_is_capped_at_what_the_channels_accept() -> None:
    short = run_cli(
        "token", "cust-0002", "--ttl", "60", database_url=None, CUSTOMER_TOKEN_SECRET=TOKEN_SECRET
    )
    claims = jwt.decode(short.stdout.strip(), TOKEN_SECRET, ["HS256"], audience=AUDIENCE)
    assert (claims["sub"], claims["exp"] - claims["iat"]) == ("cust-0002", 60)
    long = run_cli(
        "token",
        "cust-0002",
        "--ttl",
        "86400",
        database_url=None,
        CUSTOMER_TOKEN_SECRET=TOKEN_SECRET,
        CUSTOMER_TOKEN_MAX_LIFETIME_S="1800",
    )
    claims = jwt.decode(long.stdout.strip(), TOKEN_SECRET, ["HS256"], audience=AUDIENCE)
    assert claims["exp"] - claims["iat"] == 1800


def test_token_names_the_configured_audience_and_issuer() -> None:
    result = run_cli(
        "token",
        "cust-0003",
        database_url=None,
        CUSTOMER_TOKEN_SECRET=TOKEN_SECRET,
        CUSTOMER_TOKEN_AUDIENCE="shop-support",
        CUSTOMER_TOKEN_ISSUER="https://shop.example.com",
    )
    verifier = CustomerTokenVerifier(
        TOKEN_SECRET, "HS256", "shop-support", issuer="https://shop.example.com"
    )
    assert verifier.verify(result.stdout.strip()).customer_id == "cust-0003"


def test_token_without_a_secret_fails_with_exit_1() -> None:
    result = run_cli("token", "cust-0001", database_url=None)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "CUSTOMER_TOKEN_SECRET" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("customer", ["not a customer", "cust-0001\nsub", "x" * 65, ""])
def test_token_refuses_what_is_not_a_customer_id(customer: str) -> None:
    result = run_cli("token", customer, database_url=None, CUSTOMER_TOKEN_SECRET=TOKEN_SECRET)
    assert result.returncode == 1
    assert result.stdout == "" and "not a customer id" in result.stderr
