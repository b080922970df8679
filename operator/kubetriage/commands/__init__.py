"""One module per ``kubetriage`` subcommand. Each defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args, settings) -> int`` (exit code); ``kubetriage.cli``
lists them. Commands parse flags and hand over to the library; they hold no logic of their
own beyond presentation."""
