"""``python -m ymt_graph.seed [--scale demo|full] [--reset]``: seed a development database."""

from __future__ import annotations

import argparse
import asyncio
import sys

from ymt_graph.seed import DEMO_LOGINS, DEMO_PASSWORD, SCALES, seed
from ymt_graph.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ymt_graph.seed", description=__doc__)
    parser.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    parser.add_argument("--scale", choices=sorted(SCALES), default="demo")
    parser.add_argument("--reset", action="store_true", help="delete the demo tenant's rows and rebuild")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    url = args.database_url or get_settings().database_url
    if not url:
        parser.error("no database: pass --database-url or set DATABASE_URL")
    try:
        report = asyncio.run(seed(url, scale=args.scale, reset=args.reset, progress=not args.quiet))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.quiet:
        print(report.summary())
    print(f"\nDemo logins (password {DEMO_PASSWORD!r}):")
    for email, role, description in DEMO_LOGINS:
        print(f"  {email:<26} {role:<13} {description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
