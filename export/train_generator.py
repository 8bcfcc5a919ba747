"""Train the conditional DCGAN (64×64) that generates images from the music embedding.

Training modes (``--mode``): ``vaegan`` (default) trains the DCGAN generator and
discriminator as a VAE-GAN (Larsen et al. 2016): an encoder (training only) gives z of a real
crop, the generator reconstructs it under the crop's condition (L1), a KL term keeps z close to
N(0, 1), the discriminator (hinge, projection) judges reconstructions and samples from the prior,
and a colour-moment loss makes prior samples match the colour statistics of a real crop of the
condition's quadrant. ``dcgan`` is the plain adversarial DCGAN of the seed; on the shared 2-core
CPU it did not get past noise in the time budget (281 steps in 13 minutes), so the shipped model
uses ``vaegan``, whose reconstruction term learns far faster per step.

Conditioning follows the image-generation seed: the generator gets [z, music feature]. The
music feature is the shipped music encoder's 32-d joint embedding of a 4Q window; training
pairs are built by emotion as for the encoders: each real image crop is paired with a window
(from the clips the encoder was trained on, folds 1–4) whose 4Q quadrant equals the crop's
Valdez–Mehrabian quadrant. The discriminator sees (image, condition) with a projection term,
so it penalises images that do not fit the condition. Hinge loss, Adam 2e-4 (β 0.5, 0.999).

Exported to ``models_onnx/generator.onnx``: inputs ``z`` (B, 32) standard normal and ``cond``
(B, 32) a unit vector (the music embedding), output ``image`` (B, 3, 64, 64) RGB in 0..1.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .imagery_models import (COND_DIM, Z_DIM, Discriminator, Generator, MusicHead, VAEEncoder,
                             colour_moments, n_params)
from .train_imagery import THREADS, augment, load_sets
from .training import Run, common_args

BATCH = 32
NGF = 16
NDF = 16
SEED = 7
VERSION = "1.0.0"


def music_conditions(work, music, clip_idx):
    """Window embeddings of the shipped music encoder for the given clips, by quadrant."""
    state = torch.load(work / "imagery.pt", weights_only=True)
    mh = MusicHead()
    mh.load_state_dict(state["music"])
    mh.eval()
    sel = np.flatnonzero(np.isin(music["owner"], clip_idx))
    with torch.no_grad():
        e = mh(torch.from_numpy(music["x"][sel]))[0].numpy()
    q = music["q"][music["owner"][sel]]
    return [e[q == k] for k in range(4)]


def write_anchors(work, music, fold_c, path) -> list:
    """Store the quadrant anchors (mean music embedding of each quadrant's training windows,
    folds 1–4) in the generator's contract: the condition when only q1..q4 or valence/arousal
    are known (no music encoder running)."""
    from .onnx_export import read_contract

    contract = read_contract(path)
    conds = music_conditions(work, music, np.flatnonzero(fold_c != 0))
    anchors = [(c.mean(0) / (np.linalg.norm(c.mean(0)) + 1e-9)).round(6).tolist() for c in conds]
    if contract.get("cond_anchors") != anchors:
        set_contract_keys(path, {"cond_anchors": anchors})
    return anchors


def set_contract_keys(path, keys: dict) -> None:
    """Add or replace contract keys in both the ONNX metadata and the sidecar JSON."""
    import json

    import onnx

    side = path.with_suffix(".json")
    full = json.loads(side.read_text())
    full.update(keys)
    side.write_text(json.dumps(full, indent=2, default=float) + "\n")
    proto = onnx.load(str(path))
    for e in proto.metadata_props:
        if e.key == "sonolux_contract":
            e.value = json.dumps(full, default=float)
    onnx.save(proto, str(path))


def run(argv=None) -> dict:
    p = common_args(__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=12.0, help="training time budget (default 12)")
    p.add_argument("--steps", type=int, default=None, help="a fixed number of steps instead")
    p.add_argument("--mode", choices=("vaegan", "dcgan"), default="vaegan")
    a = p.parse_args(argv)
    run = Run(a, seed=SEED, threads=THREADS)
    timer = run.timer
    clips, music, images = load_sets(a)
    work = run.work
    fold_c = np.array([c["fold"] for c in clips])
    conds = music_conditions(work, music, np.flatnonzero(fold_c != 0))
    crops, iq = images["crops"], images["q"]
    by_q = [np.flatnonzero(iq == k) for k in range(4)]
    rng = np.random.default_rng(SEED)
    G, Dn = Generator(NGF), Discriminator(NDF)
    E = VAEEncoder(NGF) if a.mode == "vaegan" else None
    og = torch.optim.Adam(list(G.parameters()) + (list(E.parameters()) if E else []), lr=2e-4 if E is None else 5e-4,
                          betas=(0.5, 0.999))
    od = torch.optim.Adam(Dn.parameters(), lr=2e-4, betas=(0.5, 0.999))
    max_steps = a.steps or (20 if a.smoke else 10 ** 9)
    budget = 1e9 if (a.steps or a.smoke) else a.minutes * 60
    step = 0
    hist = []
    bar = tqdm(desc="generator", unit="step", mininterval=5.0)

    def sample(qs):
        im = np.array([rng.choice(by_q[k]) for k in qs])
        x = augment(crops[im].astype(np.float32).transpose(0, 3, 1, 2) / 255.0, rng)
        return torch.from_numpy(np.ascontiguousarray(x))

    def conds_of(qs):
        return torch.from_numpy(np.stack([conds[k][rng.integers(0, len(conds[k]))] for k in qs]))

    while step < max_steps and timer.s < budget:
        q = rng.integers(0, 4, BATCH)
        real, c = sample(q), conds_of(q)
        z = torch.randn(BATCH, Z_DIM)
        fake = G(z, c)
        if E is None:
            # mismatched conditions: real images with a condition of another quadrant are "fake"
            qm = (q + rng.integers(1, 4, BATCH)) % 4
            d_mis = Dn(real, conds_of(qm))
            ld = F.relu(1 - Dn(real, c)).mean() + 0.5 * F.relu(1 + Dn(fake.detach(), c)).mean() \
                + 0.5 * F.relu(1 + d_mis).mean()
            od.zero_grad()
            ld.backward()
            od.step()
            lg = -Dn(fake, c).mean()
            parts = (float(ld.detach()), float(lg.detach()))
        else:
            mu, logvar = E(real)
            zr = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            rec = G(zr, c)
            ld = F.relu(1 - Dn(real, c)).mean() + 0.5 * F.relu(1 + Dn(fake.detach(), c)).mean() \
                + 0.5 * F.relu(1 + Dn(rec.detach(), c)).mean()
            od.zero_grad()
            ld.backward()
            od.step()
            l_rec = F.l1_loss(rec, real)
            l_kl = (-0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)).mean()
            l_adv = -0.5 * (Dn(fake, c).mean() + Dn(rec, c).mean())
            l_col = F.l1_loss(colour_moments(fake), colour_moments(sample(q)))
            lg = 10.0 * l_rec + 0.01 * l_kl + 0.05 * l_adv + 5.0 * l_col
            parts = (float(ld.detach()), float(l_rec.detach()), float(l_kl.detach()), float(l_col.detach()))
        og.zero_grad()
        lg.backward()
        og.step()
        hist.append(parts)
        step += 1
        bar.update(1)
        if step % 100 == 0:
            h = np.array(hist[-100:])
            tqdm.write(f"generator step {step} ({timer.s / 60:.1f} min): " + " ".join(f"{v:.3f}" for v in h.mean(0)))
    bar.close()
    G.eval()
    rs = np.random.default_rng(0)
    cond_real = np.stack([conds[k][0] for k in range(4)]).astype(np.float32)
    real = {"z": rs.standard_normal((4, Z_DIM)).astype(np.float32), "cond": cond_real}
    rnd_c = rs.standard_normal((3, COND_DIM)).astype(np.float32)
    rnd = {"z": rs.standard_normal((3, Z_DIM)).astype(np.float32),
           "cond": (rnd_c / np.linalg.norm(rnd_c, axis=1, keepdims=True)).astype(np.float32)}
    path = run.ship(G, "generator", real=real, rand=rnd, outputs=["image"], contract={
        "name": "sonolux-generator", "version": VERSION, "task": "generator", "window_frames": 0,
        "image_size": 64, "z_dim": Z_DIM, "cond_dim": COND_DIM,
        "cond": "music_embedding (music_embed.onnx output, unit vector)",
        "output_shapes": {"image": [3, 64, 64]}, "output_range": [0.0, 1.0],
        "architecture": f"conditional DCGAN generator, ngf {NGF}; discriminator ndf {NDF} with projection",
        "training": a.mode + (": VAE-GAN (L1 reconstruction + 0.01 KL + 0.05 hinge adversarial + 5 colour "
                              "moments of a real crop of the condition's quadrant)" if a.mode == "vaegan"
                              else ": hinge adversarial with mismatched-condition negatives"),
        "training_data": "offline image crops (Debian wallpapers, skimage.data) paired by "
                         "Valdez-Mehrabian quadrant with emotion4q folds 1-4 windows",
        "steps": step, "batch": BATCH, "seed": SEED, "n_params": n_params(G)})
    write_anchors(work, music, fold_c, path)
    run.report.update(mode=a.mode, steps=step, n_params_discriminator=n_params(Dn),
                      final_losses=np.array(hist[-200:]).mean(0).tolist())
    return run.finish("generator")


if __name__ == "__main__":
    run()
