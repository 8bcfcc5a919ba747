"""Show files: ``sonolux show init FILE`` writes a commented one to edit; ``sonolux show check
FILE`` reads it as ``run --show FILE`` would and says what it sets. Run it with
``sonolux run --show FILE``."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="show files: write a commented one, check one", description=__doc__)
    show_sub = p.add_subparsers(dest="show_command", metavar="SUBCOMMAND")
    init = show_sub.add_parser("init", help="write a commented show file to edit")
    init.add_argument("file", metavar="FILE.toml")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    check = show_sub.add_parser("check", help="read a show file and print what it sets")
    check.add_argument("file", metavar="FILE.toml")


def run(args) -> int:
    from ..show import init_show, load_show

    if args.show_command == "init":
        path = init_show(args.file, force=args.force)
        print(f"sonolux: wrote {path}; edit it, then: sonolux run --show {path}")
        return 0
    if args.show_command == "check":
        show = load_show(args.file)
        for dest, value in sorted(show.options.items()):
            print(f"{dest:<20} {value!r}")
        for t in show.targets:
            print(f"{'osc':<20} {t.target}@{t.profile or 'sonolux'}" + (f" delay {t.delay_ms:g} ms" if t.delay_ms else ""))
        return 0
    print("usage: sonolux show {init,check} FILE (see sonolux show --help)")
    return 2
