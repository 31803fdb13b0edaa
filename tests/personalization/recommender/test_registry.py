"""Versioned artefacts: atomic switch, metadata, rollback, and forgetting a customer."""

from __future__ import annotations

import os

import pytest

from personalization.recommender.registry import ModelRegistry, RegistryError
from personalization.recommender.training import forget_customer, rollback, train
from personalization.store import Database
from tests.personalization.recommender.conftest import FAST


def test_train_saves_a_version_with_metadata_and_switches_to_it(
    shop: Database, registry: ModelRegistry
) -> None:
    assert registry.current_version() is None
    report = train(shop, registry, params=FAST)
    assert registry.current_version() == report.version
    meta = registry.metadata(report.version)
    assert len(meta["data_fingerprint"]) == 64
    assert meta["params"]["components"] == 16
    assert meta["customers"] >= 30 and meta["products"] >= 50
    assert meta["trained_at"] and meta["metrics"]["fit_seconds"] >= 0
    assert os.path.islink(registry.root / "current")
    assert not list((registry.root / "versions").glob(".staging-*")), "no half-written version"
    model = registry.load(report.version)
    assert model.knows("cust-0001")


def test_same_data_same_fingerprint(shop: Database, registry: ModelRegistry) -> None:
    first = train(shop, registry, params=FAST, tune=False)
    second = train(shop, registry, params=FAST, tune=False)
    assert first.version != second.version
    assert first.metadata["data_fingerprint"] == second.metadata["data_fingerprint"]
    assert second.previous_version == first.version


def test_rollback_walks_back_one_version_at_a_time(shop: Database, registry: ModelRegistry) -> None:
    with pytest.raises(RegistryError, match="train"):
        registry.rollback()
    v1 = train(shop, registry, params=FAST, tune=False).version
    with pytest.raises(RegistryError, match="only version"):
        registry.rollback()
    v2 = train(shop, registry, params=FAST, tune=False).version
    v3 = train(shop, registry, params=FAST, tune=False).version
    assert rollback(registry)["version"] == v2
    assert registry.current_version() == v2
    assert rollback(registry) == {
        "version": v1,
        "rolled_back_from": v2,
        "cache_keys_invalidated": None,
    }
    with pytest.raises(RegistryError, match="only version"):
        registry.rollback()
    assert registry.versions() == sorted([v1, v2, v3]), "rollback deletes nothing"
    v4 = train(shop, registry, params=FAST, tune=False).version
    assert rollback(registry)["version"] == v1, "back to what was active before v4"
    assert v4 in registry.versions()


def test_activating_an_unknown_version_is_refused(registry: ModelRegistry) -> None:
    with pytest.raises(RegistryError, match="no recommender version"):
        registry.activate("20990101T000000000000Z-deadbeef")
    assert registry.current_version() is None


def test_an_erased_customer_disappears_from_every_version(
    shop: Database, registry: ModelRegistry
) -> None:
    train(shop, registry, params=FAST, tune=False)
    train(shop, registry, params=FAST, tune=False)
    assert forget_customer(registry, "cust-0001") == 2
    for version in registry.versions():
        assert not registry.load(version).knows("cust-0001")
        assert registry.load(version).knows("cust-0002")
    assert forget_customer(registry, "cust-0001") == 0
