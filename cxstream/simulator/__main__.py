"""`python -m cxstream.simulator`: the same command without the rest of the cxstream CLI."""

from __future__ import annotations

import argparse
import os
import sys

from cxstream.simulator import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cxstream.simulator", description=__doc__)
    parser.add_argument("--bootstrap-servers",
                        default=os.environ.get("CXSTREAM_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    cli.add_arguments(parser)
    try:
        return cli.main(parser.parse_args(argv))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
