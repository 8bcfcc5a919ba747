"""Reading and validating config values, in one place.

Every value a user gives sonolux — a command-line flag, an OSC control message, a key in an
OSC profile, a preset's JSON or a show file — passes through these functions, so a bad value
is reported the same way everywhere: naming *where* it came from (``--osc``,
``/sonolux/bpm/range``, ``eos.toml: map[3].range``), the key and the bad value::

    >>> number(3, "--osc-rate", lo=0.01, hi=1000)
    3.0
    >>> parse_host_port("10.0.0.5:3032", "--osc")
    ('10.0.0.5', 3032)
    >>> number("big", "presets/x.json: parameters[2] (gain).max")
    Traceback (most recent call last):
    ...
    sonolux.errors.ParameterError: presets/x.json: parameters[2] (gain).max: 'big' must be a number

``error=`` picks the exception class (:class:`~sonolux.errors.ConfigError` for files,
:class:`~sonolux.errors.ParameterError` for flags and messages; both are SonoluxErrors).
"""
from __future__ import annotations

import difflib
import json
import math
from pathlib import Path

from .errors import ParameterError


def fail(where: str, msg: str, error=ParameterError):
    """Raise ``error("where: msg")``."""
    raise error(f"{where}: {msg}")


def did_you_mean(name: str, choices) -> str:
    """`` (did you mean 'level'?)`` for a near miss among ``choices``, else ``""``."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=3)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _bounds(lo, hi) -> str:
    return f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"


def number(v, where: str, *, lo=None, hi=None, integer: bool = False, positive: bool = False,
           error=ParameterError) -> float | int:
    """A finite number (an int when ``integer``) within ``lo..hi`` (inclusive; ``positive``:
    strictly above 0). Strings are not numbers: a file's ``"3"`` is a typo worth naming.

    >>> number(5, "port", lo=1, hi=65535, integer=True)
    5
    """
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
        fail(where, f"{v!r} must be {'an integer' if integer else 'a number'}", error)
    if not math.isfinite(v):
        fail(where, f"{v!r} must be a finite number", error)
    if positive and v <= 0:
        fail(where, f"{v!r} must be > 0", error)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        fail(where, f"{v!r} is outside {_bounds(lo, hi)}", error)
    return int(v) if integer else float(v)


def number_text(text: str, where: str, **kw) -> float | int:
    """``number`` for text (a flag's value): ``"48000"`` → 48000."""
    try:
        v = int(text) if kw.get("integer") else float(text)
    except (TypeError, ValueError):
        fail(where, f"{text!r} must be {'an integer' if kw.get('integer') else 'a number'}",
             kw.get("error", ParameterError))
    return number(v, where, **kw)


def choice(v, where: str, choices, error=ParameterError):
    """``v`` if it is one of ``choices``, else an error listing them (with a near miss)."""
    if v not in choices:
        fail(where, f"{v!r} is not one of {', '.join(map(str, choices))}"
             + (did_you_mean(v, choices) if isinstance(v, str) else ""), error)
    return v


def boolean(v, where: str, error=ParameterError) -> bool:
    if not isinstance(v, bool):
        fail(where, f"{v!r} must be true or false", error)
    return v


def string(v, where: str, error=ParameterError) -> str:
    """A non-empty string."""
    if not isinstance(v, str) or not v:
        fail(where, f"{v!r} must be a non-empty string", error)
    return v


def pair(v, where: str, *, lo=None, hi=None, error=ParameterError) -> tuple[float, float]:
    """A list of two numbers ``[a, b]`` (each within ``lo..hi``)."""
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        fail(where, f"{v!r} must be a list of two numbers, e.g. [0, 1]", error)
    return tuple(number(x, f"{where}[{i}]", lo=lo, hi=hi, error=error) for i, x in enumerate(v))


def parse_range(v, where: str, *, lo=None, hi=None, min_ratio: float | None = None,
                error=ParameterError) -> tuple[float, float]:
    """A non-empty range: ``[70, 180]`` or the text ``"70..180"`` / ``"70,180"`` → (70.0,
    180.0); ``low < high``, and ``high ≥ min_ratio × low`` when given.

    >>> parse_range("70..180", "--bpm-range", lo=20, hi=400, min_ratio=1.5)
    (70.0, 180.0)
    """
    if isinstance(v, str):
        parts = v.replace("..", ",").split(",")
        if len(parts) != 2:
            fail(where, f"{v!r} must look like LOW..HIGH, e.g. 70..180", error)
        try:
            v = [float(p) for p in parts]
        except ValueError:
            fail(where, f"{v!r} must look like LOW..HIGH, e.g. 70..180", error)
    a, b = pair(v, where, lo=lo, hi=hi, error=error)
    if not a < b:
        fail(where, f"{a:g}..{b:g} must have low < high", error)
    if min_ratio is not None and b < a * min_ratio:
        fail(where, f"{a:g}..{b:g} is too narrow (high must be at least {min_ratio:g} × low)", error)
    return a, b


def parse_port(v, where: str, *, allow_zero: bool = False, error=ParameterError) -> int:
    """A port number 1..65535 (0 = any free port, when ``allow_zero``), from text or a number."""
    if isinstance(v, str):
        try:
            v = int(v.strip())
        except ValueError:
            fail(where, f"port {v!r} is not a number", error)
    lo = 0 if allow_zero else 1
    if isinstance(v, bool) or not isinstance(v, int):
        fail(where, f"port {v!r} is not a number", error)
    if not lo <= v <= 65535:
        fail(where, f"port {v} is outside {lo}..65535", error)
    return v


def parse_host_port(text, where: str, *, default_host: str | None = None, allow_zero: bool = False,
                    error=ParameterError) -> tuple[str, int]:
    """``HOST:PORT`` or ``[v6addr]:PORT`` → (host, port); with ``default_host``, a bare
    ``PORT`` is allowed too. Host names are not resolved here (see
    :func:`sonolux.outputs.osc.parse_target`).

    >>> parse_host_port("8080", "--panel", default_host="127.0.0.1")
    ('127.0.0.1', 8080)
    """
    if not isinstance(text, str):
        fail(where, f"{text!r} must look like HOST:PORT", error)
    host, sep, port = text.strip().rpartition(":")
    if not sep and default_host is not None:
        host, port = default_host, text
    host = host.strip("[]")
    if not host:
        example = "PORT or HOST:PORT, e.g. 9001" if default_host else "HOST:PORT, e.g. 127.0.0.1:9000"
        fail(where, f"{text!r} must look like {example}", error)
    return host, parse_port(port, f"{where} {text!r}", allow_zero=allow_zero, error=error)


def read_text(path, error=None) -> str:
    """A config file's text (UTF-8); a missing, unreadable or binary file is an error naming it."""
    from pathlib import Path

    from .errors import ConfigError

    error = error or ConfigError
    p = Path(path)
    try:
        return p.read_bytes().decode("utf-8")
    except OSError as e:
        raise error(f"{p}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise error(f"{p}: not UTF-8 text (byte {e.start})") from None


def parse_list(text: str, where: str, item=str) -> list:
    """``"a,b, c"`` → ``[item("a"), item("b"), item("c")]``; an item's ValueError names it."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            out.append(item(part))
        except ValueError:
            fail(where, f"{part!r} in {text!r} is not valid")
    return out


def read_json_file(path, what: str, error=ParameterError):
    """The JSON document in ``path``, or ``error`` with one line naming the file and what is
    wrong (missing, unreadable, not JSON); ``what`` names the kind of file ("cut judge")."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise error(f"{path}: no such {what} file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: not a readable JSON {what} file ({e})") from None
