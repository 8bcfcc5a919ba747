"""Choosing Vispy's GL backend: a window when a display is present, otherwise an offscreen
context — EGL on a machine with a GPU, OSMesa (Mesa's software rasteriser) elsewhere.

Vispy binds one backend per process, so call :func:`use_offscreen` (or
:func:`use_window`) before creating any canvas.
"""
from __future__ import annotations

import ctypes.util
import glob
import os

from ..errors import SonoluxError


class GLUnavailable(SonoluxError):
    """No usable OpenGL backend (no display, no OSMesa, no EGL)."""


def has_display() -> bool:
    """True when an X11 or Wayland display is available for a window."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def find_osmesa() -> str | None:
    """Path (or soname) of libOSMesa: ``$OSMESA_LIBRARY``, the usual library folders, or the
    linker's search. None when it is not installed."""
    env = os.environ.get("OSMESA_LIBRARY")
    if env and (os.path.exists(env) or "/" not in env):
        return env
    pats = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
            "/usr/local/lib", "/opt/homebrew/lib"]
    for d in pats + glob.glob("/usr/lib/*-linux-gnu"):
        found = [f for f in glob.glob(os.path.join(d, "libOSMesa.so*")) if os.path.exists(f)]
        if found:  # the newest ABI: libOSMesa.so.8 before .so.6; the plain .so last
            def version(f):
                tail = f.rsplit(".so", 1)[1].lstrip(".")
                return tuple(int(p) for p in tail.split(".") if p.isdigit()) or (-1,)
            return max(found, key=lambda f: (version(f)[0], -len(f)))
    name = ctypes.util.find_library("OSMesa")
    return name


def gpu_present() -> bool:
    """A GPU with an EGL driver is likely present (NVIDIA device node or a DRM render node)."""
    return bool(glob.glob("/dev/nvidia[0-9]*") or glob.glob("/dev/dri/renderD*")) and bool(
        ctypes.util.find_library("EGL") or glob.glob("/usr/lib/*/libEGL.so*"))


def current_backend() -> str | None:
    """The vispy app backend already bound in this process, or None (never imports vispy.app:
    that would load the GL library before the backend is chosen)."""
    import sys

    mod = sys.modules.get("vispy.app._default_app")
    default = getattr(mod, "default_app", None) if mod else None
    if default is not None:
        return default.backend_name.lower()
    return None


def _set_gl_lib(lib: str) -> None:
    """Point vispy's GL function loader at ``lib``; it reads ``VISPY_GL_LIB`` once, when
    ``vispy.gloo`` is first imported, so this must run before that."""
    import sys

    if "vispy.gloo.gl.gl2" in sys.modules:
        return
    os.environ["VISPY_GL_LIB"] = lib


def use_offscreen(prefer: str = "auto") -> str:
    """Bind an offscreen backend: ``egl``, ``osmesa`` or ``auto`` (EGL when a GPU is present
    and ``$SONOLUX_GL`` is not ``osmesa``, else OSMesa). Returns the backend's name."""
    import vispy

    prefer = (os.environ.get("SONOLUX_GL") or prefer).lower()
    bound = current_backend()
    if bound:
        return bound
    order = {"egl": ["egl"], "osmesa": ["osmesa"],
             "auto": (["egl", "osmesa"] if gpu_present() else ["osmesa"])}.get(prefer)
    if order is None:
        raise GLUnavailable(f"gl={prefer!r} must be one of auto, egl, osmesa")
    errors = []
    for name in order:
        try:
            if name == "osmesa":
                lib = find_osmesa()
                if lib is None:
                    raise GLUnavailable("libOSMesa not found (apt-get install libosmesa6)")
                os.environ["OSMESA_LIBRARY"] = lib
                # vispy.use(app='osmesa') points its GL loader at $OSMESA_LIBRARY
            elif name == "egl":
                lib = ctypes.util.find_library("OpenGL")  # glvnd's context-neutral GL
                if lib:
                    _set_gl_lib(lib)
                if not has_display():
                    # Mesa's EGL needs this without X/Wayland; NVIDIA's EGL (listed first by
                    # glvnd) ignores it and picks the GPU device
                    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
            vispy.use(app=name)
            from vispy import app

            app.use_app(name)
            return name
        except Exception as e:  # noqa: BLE001 - try the next backend
            errors.append(f"{name}: {e}")
    raise GLUnavailable("no offscreen OpenGL backend: " + "; ".join(errors))


#: Vispy backends that open real windows, in order of preference
WINDOW_BACKENDS = (("pyqt6", "PyQt6"), ("pyside6", "PySide6"), ("pyqt5", "PyQt5"), ("pyside2", "PySide2"),
                   ("glfw", None), ("sdl2", "sdl2"), ("pyglet", "pyglet"), ("wx", "wx"),
                   ("tkinter", "pyopengltk"))


def use_window() -> str:
    """Bind a windowing backend (Qt, GLFW, SDL2, ... whichever is installed; never the
    offscreen ones). Raises GLUnavailable when there is none."""
    import importlib.util

    bound = current_backend()
    if bound:
        # SONOLUX_WINDOW_OFFSCREEN=1: drive the window code on an invisible canvas (tests)
        if bound in ("osmesa", "egl") and not os.environ.get("SONOLUX_WINDOW_OFFSCREEN"):
            raise GLUnavailable(f"the offscreen {bound} backend is already in use; no window")
        return bound
    from vispy import app

    tried = []
    for name, module in WINDOW_BACKENDS:
        if module is not None and importlib.util.find_spec(module) is None:
            continue
        try:
            return app.use_app(name).backend_name.lower()
        except Exception as e:  # noqa: BLE001 - try the next one
            tried.append(f"{name}: " + " ".join(str(e).split()))
    raise GLUnavailable("no window backend for Vispy (install one, e.g. `pip install glfw` or PyQt6)"
                        + (f" [{'; '.join(tried)}]" if tried else ""))


def osmesa_available() -> bool:
    return find_osmesa() is not None
