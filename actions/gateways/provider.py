"""How an action gets its gateway: the store-backed one, unless a test put another in place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

G = TypeVar("G")


class Provider(Generic[G]):
    """A module-level factory: ``order_store()`` gives the gateway to use now."""

    def __init__(self, build: Callable[[], G]) -> None:
        self._build = build
        self._replacement: G | None = None

    def __call__(self) -> G:
        return self._replacement if self._replacement is not None else self._build()

    @contextmanager
    def replaced(self, gateway: G) -> Iterator[G]:
        """Use ``gateway`` (e.g. an in-process fake in a test) until the block ends."""
        previous, self._replacement = self._replacement, gateway
        try:
            yield gateway
        finally:
            self._replacement = previous
