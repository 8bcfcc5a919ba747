"""TensorFlow side of the musicnn port: run ONLY in a separate export-time venv that has
``tensorflow-cpu``, ``tf-keras`` and ``musicnn`` (never a runtime or test dependency):

    python3 -m venv /work/venvs/tf
    /work/venvs/tf/bin/pip install tensorflow-cpu tf-keras && /work/venvs/tf/bin/pip install --no-deps musicnn
    /work/venvs/tf/bin/python export/musicnn_tf.py weights           # checkpoints -> .npz
    /work/venvs/tf/bin/python export/musicnn_tf.py reference IN.npz   # TF outputs for parity
    /work/venvs/tf/bin/python export/musicnn_tf.py vgg PATCHES.npz     # MSD_vgg pool5 per patch

``weights`` reads the MTT_musicnn and MSD_musicnn checkpoints shipped in the musicnn package
(ISC licence) with TensorFlow's checkpoint reader and writes every non-optimiser variable to
``export/work/musicnn/<model>.npz``; ``export/musicnn_torch.py`` rebuilds the network in
PyTorch from those arrays. ``reference`` runs the package's own TF graph
(``musicnn.models.define_model``) on the musicnn inputs stored in ``IN.npz`` (key ``x``:
(batch, frames, 96), log10(1 + 10000·mel power)) and writes taggram, penultimate, mean_pool
and max_pool next to it (``IN.<model>.tf.npz``), so the PyTorch port can be checked
layer-exact against TensorFlow. ``vgg`` runs the package's ``MSD_vgg`` graph and checkpoint
on the patches in ``PATCHES.npz`` (key ``x``: (patches, 187, 96) musicnn inputs, ``song``)
and writes the flattened pool5 (256) and the MSD taggram per patch next to it
(``PATCHES.MSD_vgg.npz``; ``export/emotion_second_view.py`` screens them). This file imports
nothing from sonolux.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parent / "work" / "musicnn"
MODELS = ("MTT_musicnn", "MSD_musicnn")


def checkpoint_prefix(model: str) -> str:
    import musicnn

    return str(Path(musicnn.__file__).parent / model) + "/"


def dump_weights() -> None:
    from tensorflow.python.training import py_checkpoint_reader

    OUT.mkdir(parents=True, exist_ok=True)
    for model in MODELS:
        reader = py_checkpoint_reader.NewCheckpointReader(checkpoint_prefix(model))
        names = [k for k in reader.get_variable_to_shape_map()
                 if "Adam" not in k and not k.startswith("beta") and k != "global_step"]
        arrays = {k: reader.get_tensor(k).astype(np.float32) for k in sorted(names)}
        np.savez(OUT / f"{model}.npz", **arrays)
        print(f"{model}: {len(arrays)} variables, "
              f"{sum(a.size for a in arrays.values()):,} numbers -> {OUT / (model + '.npz')}")


def reference(path: str) -> None:
    import tensorflow as tf
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    x = np.load(path)["x"].astype(np.float32)
    for model in MODELS:
        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            inp = tf.compat.v1.placeholder(tf.float32, [None, x.shape[1], x.shape[2]])
            training = tf.compat.v1.placeholder(tf.bool)
            out = models.define_model(inp, training, model, 50)
        logits, penultimate, mean_pool, max_pool = out[0], out[8], out[6], out[7]
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().restore(sess, checkpoint_prefix(model))
            res = sess.run([tf.nn.sigmoid(logits), penultimate, mean_pool, max_pool],
                           feed_dict={inp: x, training: False})
        dst = Path(path).with_suffix(f".{model}.tf.npz")
        np.savez(dst, taggram=res[0], penultimate=res[1], mean_pool=res[2], max_pool=res[3])
        print(f"{model}: TF outputs of {len(x)} inputs -> {dst}")


def vgg_features(path: str, model: str = "MSD_vgg", batch: int = 64) -> None:
    import tensorflow as tf
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    z = np.load(path)
    x = z["x"].astype(np.float32)
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        inp = tf.compat.v1.placeholder(tf.float32, [None, x.shape[1], x.shape[2]])
        training = tf.compat.v1.placeholder(tf.bool)
        logits, *_, pool5 = models.define_model(inp, training, model, 50)
    pool5 = tf.compat.v1.layers.flatten(pool5)
    out = {"pool5": [], "taggram": []}
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.train.Saver().restore(sess, checkpoint_prefix(model))
        for i in range(0, len(x), batch):
            p5, tg = sess.run([pool5, tf.nn.sigmoid(logits)], feed_dict={inp: x[i:i + batch], training: False})
            out["pool5"].append(p5)
            out["taggram"].append(tg)
            print(f"{model}: {i + len(p5)} / {len(x)} patches", flush=True)
    pool5 = np.concatenate(out["pool5"])
    if not np.isfinite(pool5).all():
        sys.exit(f"{path}: {int((~np.isfinite(pool5).all(1)).sum())} patches give non-finite pool5 (check the inputs)")
    dst = Path(path).with_suffix(f".{model}.npz")
    np.savez(dst, pool5=pool5, taggram=np.concatenate(out["taggram"]), song=z["song"])
    print(f"{model}: pool5 of {len(x)} patches -> {dst}")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "weights":
        dump_weights()
    elif len(sys.argv) == 3 and sys.argv[1] == "reference":
        reference(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "vgg":
        vgg_features(sys.argv[2])
    else:
        sys.exit(__doc__)
