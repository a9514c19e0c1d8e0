"""Run every `benchmarks/bench_*.py` module's `main()` in turn, printing what each prints.

`python -m benchmarks` runs them all; `python -m benchmarks case_store` runs only the modules whose
names contain one of the given words.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(path.stem for path in Path(__file__).parent.glob("bench_*.py"))
    chosen = [name for name in names if not argv or any(word in name for word in argv)]
    if not chosen:
        print(f"no benchmark matches {' '.join(argv)}; there are: {', '.join(names)}", file=sys.stderr)
        return 2
    for name in chosen:
        print(f"== {name}", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
        print(flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
