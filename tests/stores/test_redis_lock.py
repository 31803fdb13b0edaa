"""The conversation lock on a real Redis: turns in order, across servers, nothing left over."""

from __future__ import annotations

import asyncio
import contextlib
import time

import redis
from rasa.core.lock_store import LockError, TicketLock

from stores.redis import TimeoutRedisLockStore
from tests.stores.conftest import OwnRedis

CONVERSATION = "rest:lock-test"


def lock_store(own: OwnRedis) -> TimeoutRedisLockStore:
    return TimeoutRedisLockStore(
        host=own.host, port=str(own.port), password=own.password, db="1", key_prefix="locktest"
    )


def test_messages_of_one_conversation_over_two_servers_take_turns(own_redis: OwnRedis) -> None:
    """40 messages race for one conversation through two store instances, as two servers do."""
    stores = [lock_store(own_redis), lock_store(own_redis)]
    inside: list[int] = []
    overlaps: list[int] = []
    served: list[int] = []

    async def message(number: int) -> None:
        async with stores[number % 2].lock(CONVERSATION, lock_lifetime=30):
            inside.append(number)
            if len(inside) > 1:
                overlaps.append(number)
            await asyncio.sleep(0.005)
            served.append(number)
            inside.remove(number)

    async def all_messages() -> None:
        await asyncio.wait_for(asyncio.gather(*(message(n) for n in range(40))), timeout=60)

    asyncio.run(all_messages())

    assert sorted(served) == list(range(40)), "every message was served once"
    assert overlaps == [], "no two messages of a conversation were inside the lock at once"
    key = stores[0].key_prefix + CONVERSATION
    assert stores[0].red.exists(key) == 0, "the lock goes with its last ticket"


def test_tickets_are_served_in_the_order_they_were_issued(own_redis: OwnRedis) -> None:
    store = lock_store(own_redis)
    order: list[int] = []

    async def message(number: int) -> None:
        async with store.lock(CONVERSATION, lock_lifetime=30):
            order.append(number)
            await asyncio.sleep(0.01)

    async def in_sequence() -> None:
        tasks = []
        for number in range(5):
            tasks.append(asyncio.create_task(message(number)))
            await asyncio.sleep(0.02)  # each ticket is issued before the next message arrives
        await asyncio.gather(*tasks)

    asyncio.run(in_sequence())
    assert order == [0, 1, 2, 3, 4]


def test_the_stored_lock_keeps_rasas_format(own_redis: OwnRedis) -> None:
    """Rasa's own lock store and tools read what the Lua scripts write, and the reverse."""
    store = lock_store(own_redis)
    conversation = 'rest:format "quoted" \\ id'
    rasa_written = TicketLock(conversation)
    rasa_written.issue_ticket(30)  # ticket 0, as Rasa's own store would save it
    store.save_lock(rasa_written)
    before = time.time()
    assert store.issue_ticket(conversation, lock_lifetime=30) == 1
    lock = store.get_lock(conversation)
    assert lock is not None and lock.conversation_id == conversation
    assert [ticket.number for ticket in lock.tickets] == [0, 1]
    assert before + 29 < lock.tickets[1].expires < time.time() + 31
    assert lock.now_serving == 0 and lock.is_locked(1)
    store.cleanup(conversation, 0)
    lock = store.get_lock(conversation)
    assert lock is not None and [ticket.number for ticket in lock.tickets] == [1]
    assert not lock.is_locked(1)
    store.cleanup(conversation, 1)
    assert store.red.exists(store.key_prefix + conversation) == 0


def test_expired_tickets_are_dropped_and_numbering_goes_on(own_redis: OwnRedis) -> None:
    store = lock_store(own_redis)
    conversation = "rest:expiring"
    stale = TicketLock(conversation)
    stale.issue_ticket(30)
    stale.issue_ticket(30)
    stale.tickets[0].expires = time.time() - 1  # a server that died holding the first
    store.save_lock(stale)
    assert store.issue_ticket(conversation, lock_lifetime=30) == 2
    lock = store.get_lock(conversation)
    assert lock is not None and [ticket.number for ticket in lock.tickets] == [1, 2]
    store.update_lock(conversation)
    assert [t.number for t in (store.get_lock(conversation) or TicketLock("")).tickets] == [1, 2]


def test_the_lock_key_expires_with_its_last_ticket(own_redis: OwnRedis) -> None:
    store = lock_store(own_redis)
    store.issue_ticket("rest:crashed", lock_lifetime=5)  # a server that died holding it
    ttl_ms = store.red.pttl(store.key_prefix + "rest:crashed")
    assert 0 < ttl_ms <= 5000


def test_a_message_whose_ticket_expired_stops_waiting(own_redis: OwnRedis) -> None:
    store = lock_store(own_redis)
    raw: redis.Redis = store.red
    now = time.time()
    # Ticket 0 is held by someone else for a minute; ticket 1 (ours) has already expired.
    lock = TicketLock.from_dict(
        {
            "conversation_id": "rest:stale",
            "tickets": [
                '{"number": 0, "expires": %f}' % (now + 60),
                '{"number": 1, "expires": %f}' % (now - 1),
            ],
        }
    )
    raw.set(store.key_prefix + "rest:stale", lock.dumps(), ex=60)

    async def wait_for_expired_ticket() -> None:
        await store._acquire_lock("rest:stale", ticket=1, wait_time_in_seconds=0.05)

    started = time.monotonic()
    try:
        asyncio.run(wait_for_expired_ticket())
    except LockError:
        pass
    else:
        raise AssertionError("an expired ticket must not be served")
    assert time.monotonic() - started < 1
    raw.delete(store.key_prefix + "rest:stale")


def test_a_message_cancelled_while_its_ticket_is_issued_gives_the_ticket_back(
    own_redis: OwnRedis,
) -> None:
    """A client that goes away cancels its request; its ticket must not block the next one."""
    store = lock_store(own_redis)

    async def cancelled_then_next() -> None:
        async def message() -> None:
            async with store.lock("rest:cancelled", lock_lifetime=30):
                await asyncio.sleep(5)

        task = asyncio.create_task(message())
        await asyncio.sleep(0)  # the ticket is being issued in its thread
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        started = time.monotonic()
        async with store.lock("rest:cancelled", lock_lifetime=30, wait_time_in_seconds=0.05):
            waited = time.monotonic() - started
        assert waited < 2, f"the next message waited {waited:.1f} s for a cancelled ticket"

    asyncio.run(asyncio.wait_for(cancelled_then_next(), timeout=20))
    assert store.red.exists(store.key_prefix + "rest:cancelled") == 0
