"""Rasa's and the action server's logs carry no customer text (stack/log_privacy.py)."""

from __future__ import annotations

import io
import json
import logging
import traceback
from collections.abc import Iterator

import pytest
import structlog
from rasa.core.lock_store import LockError
from rasa.utils import log_utils

from stack import log_privacy

pytestmark = pytest.mark.fast

EMAIL = "jane.doe@example.com"
SENTENCE = "please cancel the blue sofa I ordered for my mother"
TEXT = f"my email is {EMAIL}, {SENTENCE}"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose handler formats like Rasa's (message and traceback), scrubbing on."""
    previous = logging.getLogRecordFactory()
    log_privacy.install()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("rasa.core.channels.test_privacy")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)
        logging.setLogRecordFactory(previous)
        log_privacy._installed_factory = None


def assert_clean(output: str) -> None:
    assert EMAIL not in output
    assert SENTENCE not in output
    assert "jane.doe" not in output


def test_a_lock_error_built_from_the_message_leaves_no_text_in_the_log(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    try:
        try:
            raise ValueError(TEXT)
        except ValueError as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc
    except LockError:
        logger.exception("An exception occured while handling user message '%s'.", TEXT)
    output = out.getvalue()
    assert_clean(output)
    assert "An exception occured while handling user message [withheld]" in output
    assert "LockError: [withheld]" in output and "Traceback" in output, "frames are kept"


def test_a_traceback_logged_as_text_keeps_frames_and_withholds_messages(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    try:
        raise KeyError(TEXT)
    except KeyError:
        logger.error(traceback.format_exc())  # what rasa/server.py does
    output = out.getvalue()
    assert_clean(output)
    assert 'File "' in output and "KeyError: [withheld]" in output


def test_personal_data_in_an_ordinary_message_is_masked(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    logger.warning("Could not acquire lock for conversation_id '%s'.", EMAIL)
    logger.error("Contents of ignored event: '%s'", {"text": TEXT})
    output = out.getvalue()
    assert_clean(output)
    assert "Could not acquire lock for conversation_id" in output


def test_connection_errors_keep_their_message(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = captured
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except OSError:
        logger.exception("Redis is down")
    assert "Connection refused" in out.getvalue(), "an operator still sees why"


def test_sanic_access_log_loses_its_query_string(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    _logger, out = captured
    access = logging.getLogger("sanic.access")
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(request)s %(message)s"))
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        access.info("", extra={"request": f"GET /webhooks/rest/?q={SENTENCE}&e={EMAIL}"})
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert_clean(out.getvalue())
    assert "GET /webhooks/rest/?[withheld]" in out.getvalue()


def test_rasa_structlog_failure_event_carries_no_text(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    """``rest.message.received.failure`` as Rasa's REST channel logs it, through Rasa's own
    JSON pipeline (which prints every frame's local variables) with the scrubbers in."""
    _logger, out = captured
    root = logging.getLogger()
    handler = logging.StreamHandler(out)
    root.addHandler(handler)
    saved = structlog.get_config()
    try:
        log_utils.configure_structlog(logging.INFO)
        processors = structlog.get_config()["processors"]
        structlog.configure(
            processors=log_privacy.scrubbing_processors(list(processors)),
            cache_logger_on_first_use=False,
        )
        structlogger = structlog.get_logger("rasa.core.channels.rest")
        text = TEXT  # a local variable of the failing frame, as in Rasa's handler
        try:
            raise LockError(f"Could not handle {text}")
        except LockError:
            structlogger.exception("rest.message.received.failure", text=text)
        structlogger.debug("processor.message.parse", parse_data_text=text)
    finally:
        root.removeHandler(handler)
        structlog.configure(**saved)
    output = out.getvalue()
    assert_clean(output)
    line = next(x for x in output.splitlines() if "rest.message.received.failure" in x)
    record = json.loads(line[line.index("{") :])
    assert record["text"] == "[withheld]"
    assert "LockError: [withheld]" in record["exception"]


def test_known_rasa_sites_lose_the_message() -> None:
    assert log_privacy.scrub_message("Received user message 'hi there'") == (
        "Received user message [withheld]"
    )


def test_rasa_run_sets_up_structlog_with_the_scrubbers(monkeypatch: pytest.MonkeyPatch) -> None:
    import rasa.__main__

    monkeypatch.setattr(rasa.__main__, "configure_structlog", log_utils.configure_structlog)
    saved = structlog.get_config()
    try:
        log_privacy.install_rasa_structlog()
        rasa.__main__.configure_structlog(logging.INFO)
        processors = structlog.get_config()["processors"]
    finally:
        structlog.configure(**saved)
    assert processors[0] is log_privacy.scrub_event_dict
    assert processors.index(log_privacy.render_exception) < len(processors) - 1
