"""``kubetriage crd [--write FILE...]``: print the Incident CRD or write it into the repo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kubetriage.settings import Settings

NAME = "crd"
HELP = "print the Incident CRD, or write it to files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--write", type=Path, nargs="*", default=None, metavar="FILE")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from kubetriage.crd import render_incident_crd_yaml

    text = render_incident_crd_yaml()
    if args.write is None:
        sys.stdout.write(text)
        return 0
    for path in args.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0
