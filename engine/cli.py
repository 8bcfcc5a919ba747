"""Kept for console scripts installed before the command line moved to :mod:`sonolux.app.cli`
(their ``sonolux`` launcher imports ``sonolux.cli``); new installs use the app directly."""
from .app.cli import console_main, main  # noqa: F401
