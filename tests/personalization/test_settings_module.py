"""Settings are read in one module, and every variable it reads is documented in
docs/configuration.md."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.fast

SETTINGS = PROJECT_ROOT / "personalization" / "settings.py"
READ = re.compile(r'(?:os\.environ\.get|_int_env|_float_env|_bool_env)\(\s*"([A-Z][A-Z0-9_]+)"')


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for package in ("actions", "personalization", "channels", "brokers", "insights")
        for path in sorted((PROJECT_ROOT / package).rglob("*.py"))
        if path != SETTINGS
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "os.environ" in line or "getenv(" in line
    ]
    assert readers == []


def test_every_variable_the_settings_read_is_documented() -> None:
    names = set(READ.findall(SETTINGS.read_text(encoding="utf-8")))
    table = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert len(names) > 50
    assert sorted(n for n in names if f"`{n}`" not in table) == []
