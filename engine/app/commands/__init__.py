"""One module per ``sonolux`` command: ``add_parser(subparsers)`` and ``run(args) -> int``."""
