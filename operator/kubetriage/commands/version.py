"""``kubetriage version``."""

from __future__ import annotations

import argparse

from kubetriage import __version__
from kubetriage.settings import Settings

NAME = "version"
HELP = "print the version"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    print(f"kubetriage {__version__}")
    return 0
