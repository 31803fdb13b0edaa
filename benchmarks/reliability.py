"""The fault and abuse benchmark: load with faults, fuzz, and erasure during an outage, against
one isolated stack (its own data directory, ports, embedded PostgreSQL and Redis).

Run:  .venv/bin/python -m benchmarks.reliability [--json results/reliability.json]
      .venv/bin/python -m benchmarks.reliability --conversations 10 --messages 5 \\
          --fuzz-examples 300            # the size `make test` runs (tests/reliability)

It needs a trained model (models/shopbot.tar.gz: `make train`). It prints each scenario's
figures and every check of the issue that does not hold, and exits 1 when one does not.

1. Load with faults: --conversations × --messages REST messages (greetings, order questions
   with a customer token, product questions, thanks), while PostgreSQL, Redis and the action
   server are each SIGKILLed once, at 20 %, 45 % and 70 % of the messages. Then: answers,
   empty answers, 5xx, transport errors, "having trouble" answers, latency; `user` events
   answered against stored once the broker has drained; conversations whose tracker lost
   what it held before Redis was killed.
2. Fuzz: --fuzz-examples Hypothesis-generated REST requests and socket.io messages (unicode,
   control characters, NUL, huge and malformed JSON, wrong types, `/intent{...}` payloads,
   long and odd sender ids, huge messages) while a bystander says "hi" every 200 ms.
3. Erasure during an outage: "delete my data", PostgreSQL killed, "/affirm" at once; after
   PostgreSQL is back and the job worker has run, every store is searched for the customer.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.reliability_erasure import ERASE_CUSTOMER, run_erasure
from benchmarks.reliability_fuzz import run_fuzz
from benchmarks.reliability_load import FAULTS, run_load
from benchmarks.reliability_stack import PROJECT_ROOT, IsolatedStack


def _print(title: str, figures: dict[str, Any], problems: list[str]) -> None:
    print(f"\n== {title} ==")
    for key, value in figures.items():
        if isinstance(value, float):
            value = f"{value:.3f}"
        print(f"  {key:40} {value}")
    if problems:
        print("  FAILS:")
        for problem in problems:
            print(f"    - {problem}")
    else:
        print("  every check holds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.reliability",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20, help="per conversation")
    parser.add_argument("--think-s", type=float, default=0.3, help="mean pause between turns")
    parser.add_argument("--fuzz-examples", type=int, default=10_000)
    parser.add_argument("--fuzz-workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--skip-faults", action="store_true", help="the load without kills")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-fuzz", action="store_true")
    parser.add_argument("--skip-erasure", action="store_true")
    parser.add_argument("--erasure-timeout-s", type=float, default=240.0)
    parser.add_argument(
        "--erasure-sweeps",
        default="10,60",
        help="ERASURE_SWEEP_DELAYS_S of the stack: the conversation sweeps after an erasure "
        "(the default 10,300 needs --erasure-timeout-s over 310)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the stack's data directory (logs)"
    )
    args = parser.parse_args(argv)

    if not (PROJECT_ROOT / "models" / "shopbot.tar.gz").exists():
        print("error: no trained model at models/shopbot.tar.gz; run `make train`", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="reliability-"))
    stack = IsolatedStack(root / "stack", extra_env={"ERASURE_SWEEP_DELAYS_S": args.erasure_sweeps})
    results: dict[str, Any] = {}
    failed = False
    started = time.monotonic()
    try:
        stack.start()
        print(f"stack ready in {time.monotonic() - started:.0f} s at {stack.base_url}")
        if not args.skip_load:
            load = run_load(
                stack,
                args.conversations,
                args.messages,
                args.think_s,
                () if args.skip_faults else FAULTS,
                args.seed,
            )
            results["load_with_faults"] = load.figures()
            results["load_with_faults"]["fails"] = load.problems()
            _print("load with faults", load.figures(), load.problems())
            failed |= bool(load.problems())
        if not args.skip_fuzz:
            fuzz = run_fuzz(stack, args.fuzz_examples, args.fuzz_workers, base_seed=args.seed)
            results["fuzz"] = fuzz.figures()
            results["fuzz"]["fails"] = fuzz.problems()
            _print("fuzz", fuzz.figures(), fuzz.problems())
            failed |= bool(fuzz.problems())
        if not args.skip_erasure:
            erasure = run_erasure(stack, ERASE_CUSTOMER, args.erasure_timeout_s)
            results["erasure_during_outage"] = erasure.figures()
            results["erasure_during_outage"]["fails"] = erasure.problems()
            _print("erasure during a PostgreSQL outage", erasure.figures(), erasure.problems())
            failed |= bool(erasure.problems())
    finally:
        stack.stop()
        if args.keep_data:
            print(f"\nthe stack's data and logs are in {stack.data_dir}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))
    print(
        f"\ntotal {time.monotonic() - started:.0f} s; {'FAILED' if failed else 'all checks hold'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
