"""Driving the conditional generator (``generator.onnx``) live: a latent walk on the beat,
a condition from the music, and a worker thread that keeps the newest image ready.

Condition, in order of preference: the music encoder's embedding of the newest window
(``sonolux.imagery.context``), else the quadrant anchors (the mean music embedding of each
quadrant's training windows, stored in the generator's contract) mixed by the frame's
quadrant probabilities ``q1..q4``, else by a soft quadrant of ``valence`` / ``arousal``.
"""
from __future__ import annotations

import logging
import threading
import time

import numpy as np

from .models import load_image_model, model_path

log = logging.getLogger("sonolux.imagery")


def slerp(a: np.ndarray, b: np.ndarray, u: float) -> np.ndarray:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = float(np.clip(np.dot(a, b) / (na * nb + 1e-9), -1, 1))
    om = np.arccos(cos)
    if om < 1e-4:
        return (1 - u) * a + u * b
    return (np.sin((1 - u) * om) * a + np.sin(u * om) * b) / np.sin(om)


def soft_quadrant(valence: float, arousal: float, sharp: float = 3.0) -> np.ndarray:
    """Quadrant weights (Q1..Q4) from valence/arousal in −1..1."""
    pv = 1 / (1 + np.exp(-sharp * valence))
    pa = 1 / (1 + np.exp(-sharp * arousal))
    return np.array([pv * pa, (1 - pv) * pa, (1 - pv) * (1 - pa), pv * (1 - pa)], np.float32)


class GeneratorDriver:
    """Holds the model, the latent walk and the condition; ``generate(t)`` is deterministic in
    the audio clock (offline), ``start()`` runs it on a worker thread (live)."""

    def __init__(self, model_dir=None, *, seed: int = 11, model=None):
        self.model = model or load_image_model(model_path("generator", model_dir), "generator")
        c = self.model.contract
        self.z_dim, self.cond_dim = int(c["z_dim"]), int(c["cond_dim"])
        anchors = c.get("cond_anchors")
        self.anchors = np.asarray(anchors, np.float32) if anchors else None
        self.seed = seed
        self._keys: dict[int, np.ndarray] = {}
        self.key_phase = 0.0
        self.cond = None
        self.kick = 0.0
        self.image: np.ndarray | None = None  # (64, 64, 3) uint8, swapped by the worker
        self.image_seq = 0
        self.latency_ms: list[float] = []
        self._req = None
        self._stop = threading.Event()
        self._thread = None
        self.errors = 0

    @property
    def size(self) -> int:
        return self.model.image_size

    def key(self, i: int) -> np.ndarray:
        z = self._keys.get(i)
        if z is None:
            z = np.random.default_rng(self.seed * 100003 + i).standard_normal(self.z_dim).astype(np.float32)
            if len(self._keys) > 64:
                self._keys.clear()
            self._keys[i] = z
        return z

    def z_at(self, phase: float, kick: float = 0.0) -> np.ndarray:
        k = int(np.floor(phase))
        u = phase - k
        u = u * u * (3 - 2 * u)
        z = slerp(self.key(k), self.key(k + 1), u)
        if kick > 0:
            z = z + kick * 0.6 * self.key(-1 - (k % 7))
        return z.astype(np.float32)

    def condition(self, embedding=None, probs=None, valence=0.0, arousal=0.0) -> np.ndarray:
        if embedding is not None:
            c = np.asarray(embedding, np.float32)
        else:
            w = np.asarray(probs, np.float32) if probs is not None else soft_quadrant(valence, arousal)
            if self.anchors is None:
                c = np.zeros(self.cond_dim, np.float32)
                c[: min(4, self.cond_dim)] = w[: min(4, self.cond_dim)]
            else:
                c = w @ self.anchors
        return (c / (np.linalg.norm(c) + 1e-9)).astype(np.float32)

    def run(self, z: np.ndarray, cond: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        out = self.model.run({"z": z[None].astype(np.float32), "cond": cond[None].astype(np.float32)})["image"][0]
        self.latency_ms.append((time.perf_counter() - t0) * 1e3)
        if len(self.latency_ms) > 512:
            del self.latency_ms[:256]
        return (np.clip(out.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)

    # live ---------------------------------------------------------------------------------
    def request(self, z: np.ndarray, cond: np.ndarray) -> None:
        self._req = (z, cond)  # one reference swap; the worker takes the newest

    def start(self, fps: float = 60.0) -> "GeneratorDriver":
        self._thread = threading.Thread(target=self._loop, args=(fps,), name="sonolux-generator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(2.0)

    def _loop(self, fps: float) -> None:
        period = 1.0 / fps
        done = None
        while not self._stop.is_set():
            req = self._req
            if req is None or req is done:
                time.sleep(period / 4)
                continue
            done = req
            try:
                self.image = self.run(*req)
                self.image_seq += 1
            except Exception:  # noqa: BLE001 - never take the show down
                self.errors += 1
                log.exception("generator")
                time.sleep(0.5)
