"""The one result type of every store call an action makes: ok, unavailable or refused.

An action must tell apart "the store said no" (an unknown customer, a rule) from "the store
did not answer" (down, too slow): the first is the customer's answer, the second is ours to
apologise for. Neither is ever an exception in the action.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

T = TypeVar("T")


class Status(str, Enum):
    OK = "ok"
    UNAVAILABLE = "unavailable"  # down, timed out, or cancelled at the deadline: nothing done
    REFUSED = "refused"  # the store answered and said no


@dataclass(frozen=True)
class Outcome(Generic[T]):
    status: Status
    value: T | None = None
    reason: str = ""

    @classmethod
    def success(cls, value: T) -> Outcome[T]:
        return cls(Status.OK, value)

    @classmethod
    def unavailable(cls, reason: str) -> Outcome[T]:
        return cls(Status.UNAVAILABLE, None, reason)

    @classmethod
    def refused(cls, reason: str) -> Outcome[T]:
        return cls(Status.REFUSED, None, reason)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def is_unavailable(self) -> bool:
        """The store did not answer: say so, and never as if there were nothing to find."""
        return self.status is Status.UNAVAILABLE

    @property
    def is_refused(self) -> bool:
        return self.status is Status.REFUSED

    def found(self, reason: str) -> Outcome[T]:
        """This outcome, or refused when the store answered with nothing (an unknown
        customer, someone else's order): an answer, not an outage."""
        if self.ok and self.value is None:
            return Outcome(Status.REFUSED, None, reason)
        return self

    def value_or(self, fallback: T) -> T:
        return self.value if self.ok and self.value is not None else fallback
