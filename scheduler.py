"""The sendwatch daemon's entry point: `python scheduler.py` is `sendwatch run`.

The conductor itself (APScheduler, the crawl children, the supervised bot and feed server,
the store's lock, shutdown) is `app.daemon`; this file stays at the top of the tree so the
daemon can be started from a checkout without installing the console script.
"""

from __future__ import annotations

import sys

from app.daemon import run
from sendwatch.config import load_config
from sendwatch.errors import SendwatchError
from sendwatch.logs import setup_logging


def main() -> int:
    try:
        loaded = load_config()
        setup_logging(loaded.settings.log_level, loaded.settings)
        return run(loaded)
    except SendwatchError as exc:
        print(f"sendwatch: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
