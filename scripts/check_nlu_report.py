"""Fail when `rasa test nlu` scored the held-out messages below the bar; print the weakest."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("report", type=Path, help="intent_report.json written by rasa test nlu")
    parser.add_argument("--min-macro-f1", type=float, default=0.95)
    args = parser.parse_args(argv)
    report = json.loads(args.report.read_text())
    macro = report["macro avg"]["f1-score"]
    weakest = sorted(
        (v["f1-score"], name)
        for name, v in report.items()
        if isinstance(v, dict)
        and "support" in v
        and name not in ("macro avg", "weighted avg", "micro avg")
    )[:3]
    print(f"held-out NLU: accuracy {report['accuracy']:.3f}, macro-F1 {macro:.3f}")
    print("weakest intents: " + ", ".join(f"{n} {f:.2f}" for f, n in weakest))
    if macro < args.min_macro_f1:
        print(f"macro-F1 {macro:.3f} is below {args.min_macro_f1}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
