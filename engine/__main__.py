"""``python -m sonolux`` is the ``sonolux`` command."""
from .app.cli import console_main

console_main()
