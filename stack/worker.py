"""`python -m stack.worker`: the job worker as `make run` starts it.

The worker (personalization.jobs.worker) logs what its stores report, and a store's error can
quote values; here every record is scrubbed as in the Rasa and action servers
(stack/log_privacy.py).
"""

from __future__ import annotations

import sys

from personalization.jobs import worker
from stack import log_privacy


def main() -> int:
    log_privacy.install()
    return worker.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
