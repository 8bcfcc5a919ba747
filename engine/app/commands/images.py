"""``sonolux images index DIR``: the image bank's tools (see :mod:`sonolux.imagery.cli`)."""
from __future__ import annotations


def add_parser(sub) -> None:
    from ...imagery.cli import add_images_parser

    add_images_parser(sub)


def run(args) -> int:
    from ...imagery.cli import cmd_images

    return cmd_images(args)
