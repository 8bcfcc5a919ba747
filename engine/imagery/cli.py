"""``sonolux images ...`` and the ``--images DIR`` wiring of ``run`` (the commands in
``sonolux.app.commands`` only call these)."""
from __future__ import annotations

import sys

IMAGES_HELP = "image bank tools: index a folder of images / video loops"


def add_images_parser(sub) -> None:
    im = sub.add_parser("images", help=IMAGES_HELP,
                        description="Tools for the image_bank preset's folders.")
    im_sub = im.add_subparsers(dest="images_command", metavar="SUBCOMMAND")
    ix = im_sub.add_parser("index", help="embed a folder's images into its index (only what changed)",
                           description="Embed every image (jpg, png, webp, ...) and the first frame of "
                                       "every video loop (mp4, mov, webm, ...) under DIR with the image "
                                       "encoder (models_onnx/image_embed.onnx) into DIR/.sonolux-index.npz. "
                                       "Unchanged files (same size and mtime) are reused; unreadable "
                                       "files are skipped with a warning.")
    ix.add_argument("folder", metavar="DIR", help="folder of images and video loops")
    ix.add_argument("--models", default=None, metavar="DIR", help="model folder (default models_onnx/)")
    ix.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    ix.add_argument("--top", type=int, default=0, metavar="N",
                    help="also print the N images that fit each quadrant best")


def cmd_images(args) -> int:
    import logging
    import warnings

    from .index import ImageIndexWarning, build_index

    if args.images_command != "index":
        print("usage: sonolux images index DIR (see sonolux images --help)", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore", ImageIndexWarning)  # reported below, once per file
    logging.getLogger("sonolux.imagery").setLevel(logging.ERROR)
    index, rep = build_index(args.folder, model_dir=args.models, progress=not args.quiet)
    for rel, why in rep.skipped:
        print(f"sonolux: warning: skipped {rel}: {why}", file=sys.stderr)
    mode = f"embeddings of {rep.model}" if rep.model else "colour statistics only (no image encoder installed)"
    print(f"{rep.path}: {rep.total} items ({rep.embedded} embedded, {rep.reused} unchanged, "
          f"{rep.removed} removed, {len(rep.skipped)} skipped); {mode}")
    if args.top and index.probs is not None and len(index):
        for q in range(4):
            best = index.rank(k=args.top, scores=index.probs[:, q])
            print(f"Q{q + 1}: " + ", ".join(index.paths[i] for i in best))
    return 0


def setup_live(engine, args) -> None:
    """``run --images DIR``: index the folder and hand it (with the music encoder and the
    engine's feature stream) to the imagery presets."""
    folder = getattr(args, "images", None)
    if not folder:
        return
    from . import context

    ctx = context.live_context(folder, engine, model_dir=getattr(args, "models", None),
                               progress=not getattr(args, "quiet", False))
    context.configure(ctx)
    how = "music embedding" if ctx.music_model is not None and ctx.feature_source is not None else (
        "quadrant probabilities / colour (no music encoder or no running mood models)")
    print(f"sonolux: image bank {folder}: {len(ctx.index)} images, matched by {how}", file=sys.stderr)
