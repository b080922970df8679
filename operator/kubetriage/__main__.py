"""``python -m kubetriage``: the same as the ``kubetriage`` command."""

from kubetriage.cli import main

raise SystemExit(main())
