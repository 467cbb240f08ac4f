"""Run every benchmark module (bench/bench_*.py), or the ones named: `python -m bench progress`."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
import signal
import sys
from pathlib import Path
from typing import Any

from bench import engines


def _stop_on_sigterm(_signum: int, _frame: Any) -> None:
    raise SystemExit(143)  # through the finally below: the run's PostgreSQL server is stopped and deleted


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    wanted = [n for n in names if not argv or any(a in n for a in argv)]
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        for name in wanted:
            module = importlib.import_module(f"bench.{name}")
            print(f"\n=== {name} ===", flush=True)
            result = module.main()
            if inspect.isawaitable(result):
                asyncio.run(result)  # type: ignore[arg-type]
    finally:
        engines.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
