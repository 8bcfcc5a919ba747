"""``sonolux dmx maps``: the shipped DMX fixture maps, and one printed to copy and edit."""
from __future__ import annotations


MAPS_HELP = ("List the shipped fixture maps (name first), or print one with --show NAME to copy "
             "and edit, then run with --dmx-map my.toml.")


def add_parser(sub) -> None:
    dmx = sub.add_parser("dmx", help="DMX fixture maps (sACN / Art-Net output)",
                         description="DMX helpers. `sonolux dmx maps` lists the shipped fixture maps.")
    maps = dmx.add_subparsers(dest="dmx_command", metavar="SUBCOMMAND").add_parser(
        "maps", help="list the shipped fixture maps (name first)", description=MAPS_HELP)
    maps.add_argument("--show", metavar="NAME", default=None, help="print this map's TOML")

def run(args) -> int:
    import tomllib

    from ...outputs.dmx_config import load_map, map_dir, map_names

    if getattr(args, "show", None):
        fmap = load_map(args.show)  # an unknown name is one clear error listing the shipped maps
        print(open(fmap.source, encoding="utf-8").read(), end="")
        return 0
    for name in map_names():
        desc = tomllib.loads((map_dir() / f"{name}.toml").read_text()).get("output", {}).get("description", "")
        print(f"{name:12s} {desc}")
    return 0
