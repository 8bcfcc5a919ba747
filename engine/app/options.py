"""Option groups shared by several commands, and what a command builds from them (stream
spec, analysis config, OSC targets, models). Values are checked with :mod:`sonolux.config`,
so a bad flag reads like a bad key in a file: ``--osc '127.0.0.1:99999': port 99999 is
outside 1..65535``."""
from __future__ import annotations

import argparse
import os
import sys

from .. import config
from ..analysis import AnalysisConfig
from ..errors import ParameterError
from ..spec import StreamSpec


def number_flag(name: str, **kw):
    """An argparse ``type`` checking a number with :func:`sonolux.config.number_text`."""
    def parse(text):
        try:
            return config.number_text(text, name, **kw)
        except ParameterError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def integer(name: str):
    return number_flag(name, integer=True)


def _channels(text):
    try:
        return config.parse_list(text, "--channels", int)
    except ParameterError:
        raise argparse.ArgumentTypeError(f"--channels {text!r} must be channel numbers like 1 or 1,2") from None


def _float_list(text):
    try:
        return config.parse_list(text, text, float)
    except ParameterError:
        raise argparse.ArgumentTypeError(f"{text!r} must be comma-separated numbers") from None


def add_stream_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("stream")
    g.add_argument("--samplerate", "-r", type=integer("samplerate"), default=48000,
                   help="engine sample rate in Hz; files are resampled to it (default 48000)")
    g.add_argument("--blocksize", "-b", type=integer("blocksize"), default=256,
                   help="samples per audio callback block (default 256)")
    g.add_argument("--hop", type=integer("hop"), default=256,
                   help="samples per analysis step; one FeatureFrame per hop (default 256)")
    g.add_argument("--n-fft", type=integer("n_fft"), default=1024,
                   help="FFT size, a power of two ≥ hop (default 1024)")
    g.add_argument("--channels", type=_channels, default=None,
                   help="input channels to use, 1-based, averaged to mono (default: all)")
    g.add_argument("--bands", type=_float_list, default=None, metavar="LOW,HIGH",
                   help="bass/mid and mid/high crossovers in Hz (default 250,4000)")


def add_osc_options(p: argparse.ArgumentParser, default_targets=None) -> None:
    g = p.add_argument_group("OSC output")
    g.add_argument("--osc", action="append", metavar="HOST:PORT[@PROFILE]", default=None,
                   help="send OSC to this target, optionally with its own profile "
                        "(e.g. 10.0.0.5:3032@eos); repeat for several"
                        + (f" (default {', '.join(default_targets)})" if default_targets else ""))
    g.add_argument("--osc-profile", default=None, metavar="NAME|FILE.toml",
                   help="mapping profile for targets without @PROFILE: a shipped one "
                        "(`sonolux osc profiles`) or your own TOML; alone, it sends to the "
                        "host and port the profile names (default profile: sonolux)")
    g.add_argument("--osc-threshold", type=float, default=None,
                   help="send a value only when it moved by at least this fraction of its range "
                        "(profile default, 0.01)")
    g.add_argument("--osc-rate", type=float, default=None,
                   help="maximum messages per second per address (profile default, 44)")
    g.add_argument("--osc-bundle", action="store_true",
                   help="send each frame's messages as one bundle (off by default: grandMA3 rejects bundles)")
    g.add_argument("--osc-delay", type=float, default=None, metavar="MS",
                   help="hold OSC back by this many milliseconds, to line lights up with a PA or projector")
    c = p.add_argument_group("control: OSC input and the web panel")
    c.add_argument("--control", default=None, metavar="[HOST:]PORT",
                   help="listen for OSC control (/sonolux/preset, /tap, /bpm/range, /threshold/<name>, "
                        "/emotion/override, /blackout); HOST defaults to 127.0.0.1")
    c.add_argument("--control-allow", default=None, metavar="IP[,IP...]",
                   help="accept control packets only from these sender addresses")
    c.add_argument("--panel", default=None, metavar="[HOST:]PORT",
                   help="serve the web control panel (meters, output health, controls) on this port; "
                        "HOST defaults to 127.0.0.1, a LAN address needs a token")
    c.add_argument("--panel-token", default=None, metavar="TOKEN",
                   help="the panel's access token (default: a random one, printed at start, for a LAN bind)")


MODELS_HELP = ("folder with emotion.onnx / tagger.onnx / latent.onnx (default: the shipped models, "
               "or $SONOLUX_MODELS)")


def _bpm_range(text):
    try:
        return list(config.parse_range(text, "--bpm-range", lo=20, hi=400, min_ratio=1.5))
    except ParameterError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


_DEFAULTS = AnalysisConfig()  # help texts show the one set of defaults


def add_show_options(p: argparse.ArgumentParser, *, live: bool = True) -> None:
    """The show file and the analysis knobs it (and the panel, and OSC control) can set.
    ``live`` False (``analyze``): the file must exist and only its analysis and model
    settings apply; no input gain."""
    if live:
        p.add_argument("--show", dest="show_file", default=None, metavar="FILE.toml",
                       help="run the set-up in this show file (`sonolux show init FILE` writes one); "
                            "options given here win over the file")
    else:
        p.add_argument("--show", dest="show_file", default=None, metavar="FILE.toml",
                       help="use this show file's analysis and model settings (its [analysis] and "
                            "[models]), so the file is analysed as the show would hear it; options "
                            "given here win over the file")
        p.set_defaults(show_must_exist=True)
    add_analysis_knobs(p, live=live)


def add_analysis_knobs(p: argparse.ArgumentParser, *, live: bool = True) -> None:
    """The analysis knobs as flags; ``live`` adds the input gain. Offline commands apply
    them through :func:`analysis_config`, ``run`` through the control addresses."""
    g = p.add_argument_group("analysis knobs (also live: OSC control, the web panel)" if live
                             else "analysis knobs (as in a show file's [analysis])")
    if live:
        g.add_argument("--gain", default=None, metavar="DB|auto",
                       help="input gain in dB (-24..24), or auto: follow the input's loudness (default 0)")
    g.add_argument("--bpm-range", type=_bpm_range, default=None, metavar="LOW..HIGH",
                   help="the beat tracker's tempo range, e.g. 90..160 (default "
                        f"{_DEFAULTS.bpm_range[0]:g}..{_DEFAULTS.bpm_range[1]:g})")
    g.add_argument("--onset-sensitivity", type=number_flag("--onset-sensitivity", lo=0.1, hi=20), default=None,
                   metavar="K", help=f"onset threshold k: lower = more onsets (default {_DEFAULTS.onset_k:g})")
    g.add_argument("--gate", dest="gate_db", type=number_flag("--gate", lo=-120, hi=0), default=None,
                   metavar="DBFS", help=f"no onsets below this level (default {_DEFAULTS.onset_gate_db:g})")
    g.add_argument("--silence-db", type=number_flag("--silence-db", lo=-120, hi=0), default=None, metavar="DBFS",
                   help="below this level events stop and tempo and mood hold "
                        f"(default {_DEFAULTS.silence_db:g})")
    g.add_argument("--region-sensitivity", type=number_flag("--region-sensitivity", lo=0, hi=1), default=None,
                   metavar="S", help="how readily emotion regions cut, 0..1 "
                                     f"(default {_DEFAULTS.region_sensitivity:g}: as tuned; higher: more cuts, lower: "
                                     "fewer false cuts; with the learned judge it sets how sure the judge must be; "
                                     "firing console cues on region changes: try 0.25, less than half the cuts "
                                     "inside songs for about a tenth fewer joins found)")
    g.add_argument("--region-min-s", type=number_flag("--region-min-s", lo=0, hi=600), default=None,
                   metavar="SECONDS", help=f"no region shorter than this (default {_DEFAULTS.region_min_s:g})")
    g.add_argument("--region-cues", default=None, metavar="LIST",
                   help="region cues that are on, from contrast,novelty,mood,energy "
                        f"(default {','.join(_DEFAULTS.region_cues)})")
    g.add_argument("--region-judge", action=argparse.BooleanOptionalAction, default=None,
                   help="the learned cut judge: the fused cues propose cuts at a low threshold and "
                        "boosted trees trained on development medleys keep or drop each one, reading the "
                        "emotion model's 50 tags too (needs the emotion model; without it, or with "
                        "--no-models, the fixed fusion cuts and a warning says so) "
                        f"(default {'on' if _DEFAULTS.region_judge else 'off'})")
    g.add_argument("--region-placer", action=argparse.BooleanOptionalAction, default=None,
                   help="the learned cut placer: boosted trees trained on development medleys move each "
                        "region cut toward where the join really lies (mel and level only, no models needed) "
                        f"(default {'on' if _DEFAULTS.region_placer else 'off'})")


#: the knobs of add_show_options, applied through the control addresses once the engine runs
KNOBS = (("gain", "/sonolux/gain", "--gain"),
         ("bpm_range", "/sonolux/bpm/range", "--bpm-range"),
         ("onset_sensitivity", "/sonolux/threshold/onset", "--onset-sensitivity"),
         ("gate_db", "/sonolux/threshold/gate", "--gate"),
         ("silence_db", "/sonolux/threshold/silence", "--silence-db"),
         ("region_sensitivity", "/sonolux/region/sensitivity", "--region-sensitivity"),
         ("region_min_s", "/sonolux/region/min_s", "--region-min-s"),
         ("region_cues", "/sonolux/region/cues", "--region-cues"),
         ("region_judge", "/sonolux/region/judge", "--region-judge"),
         ("region_placer", "/sonolux/region/placer", "--region-placer"))


def apply_knobs(controls, args) -> None:
    """Set the analysis knobs given by flags or the show file (the same path as OSC control).
    A refused value is named by its flag, or by the show file's key when the file gave it."""
    show_where = getattr(args, "show_where", {})
    for dest, address, flag in KNOBS:
        value = getattr(args, dest, None)
        if value is None:
            continue
        flag = show_where.get(dest, flag)
        if isinstance(value, bool):
            value = int(value)
        given = list(value) if isinstance(value, (list, tuple)) else [value]
        error = controls.apply(address, given, log=False)
        if error:  # the flag names it: the control address and its arguments would say it twice
            error = error.removeprefix(f"{address} {given}: ")
        if error and dest in ("region_judge", "region_placer"):  # none here (no tags, a bad file): cuts go on
            print(f"sonolux: warning: {flag}: {error}", file=sys.stderr)
        elif error:
            raise ParameterError(f"{flag}: {error}")


def region_judge_notice(engine, args) -> None:
    """Say at start when models run but the learned cut judge the configuration asks for
    cannot (no tags from this emotion model, a corrupt judge file, one trained on another
    model): the fixed fusion cuts. A ``--region-judge`` flag says it through its knob; with
    ``--no-models`` the fixed fusion runs as documented, silently. Likewise a learned cut
    placer whose file cannot be used (the cuts stay where the ramp fit puts them), unless it
    was switched off."""
    from ..features.regions import RegionStage

    stage = engine.analyzer.find(RegionStage)
    if (getattr(args, "region_judge", None) is None and engine.inference_stage is not None and stage is not None
            and stage.cues is not None and stage.config.region_judge and stage.cues.judge is None):
        print(f"sonolux: warning: {stage.judge_note}", file=sys.stderr)
    flagged = getattr(args, "region_placer", None) is not None  # --region-placer said it through its knob
    if stage is not None and stage.config.region_placer and stage.placer_note and not flagged:
        print(f"sonolux: warning: {stage.placer_note}", file=sys.stderr)


def offline_threads() -> int:
    """onnxruntime threads for offline work (``analyze``): the cores this process may use, up
    to 4. Offline, the chain waits while a model runs (they take turns, hop by hop), so a
    second core helps the model and takes nothing from the analysis."""
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def add_model_options(p: argparse.ArgumentParser, *, offline: bool = False) -> None:
    """The model options; ``offline`` (``analyze``): onnxruntime gets the free cores by
    default instead of one (see :func:`offline_threads`)."""
    g = p.add_argument_group("models (mood, tags, latent)")
    g.add_argument("--no-models", action="store_true",
                   help="run without the ONNX encoders (levels, onsets and beats never need them)")
    g.add_argument("--models", default=None, metavar="DIR", help=MODELS_HELP)
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="inference device: auto = the GPU (CUDA) where onnxruntime has one, else the CPU; "
                        "cuda = the GPU, an error if it cannot start; cpu (default auto)")
    if offline:
        threads = offline_threads()
        g.add_argument("--model-threads", type=integer("model_threads"), default=threads,
                       help="onnxruntime threads (default: the cores available, up to 4, here "
                            f"{threads}; offline the analysis waits while a model runs)")
    else:
        g.add_argument("--model-threads", type=integer("model_threads"), default=1,
                       help="onnxruntime threads (default 1: leaves a core to the analysis on small machines)")
    g.add_argument("--inference-every", type=float, default=0.5, metavar="SECONDS",
                   help="run the models once per this much audio (default 0.5)")
    g.add_argument("--smoothing", choices=("ema", "one-euro", "none"), default="ema",
                   help="smoothing of the predictions for live use (default ema, 2 s)")
    g.add_argument("--mood-calibration", default=None, metavar="FILE",
                   help="per-show mood calibration (JSON): loaded at start, taught by the operator's "
                        "/sonolux/emotion/override, saved at stop; /sonolux/emotion/calibration/reset "
                        "(or the panel) resets it")


def add_visual_options(p: argparse.ArgumentParser) -> None:
    """Options of the visual window, shared by ``run`` and ``demo``."""
    g = p.add_argument_group("visuals")
    g.add_argument("--no-window", action="store_true",
                   help="do not open the visual window (it opens by default when a display is present)")
    g.add_argument("--preset", default=None, metavar="NAME",
                   help="preset to start with (default: the playlist's start, else the first found)")
    g.add_argument("--presets", action="append", default=None, metavar="DIR",
                   help="also load presets (NAME.json + NAME.py) from this folder; repeatable")
    g.add_argument("--playlist", default=None, metavar="FILE|off",
                   help="mood playlist JSON (default: the shipped presets' playlist.json); 'off' "
                        "disables automatic switching")
    g.add_argument("--fullscreen", action="store_true", help="start fullscreen (F toggles)")
    g.add_argument("--screen", type=int, default=None, metavar="N", help="monitor for fullscreen (0, 1, ...)")
    g.add_argument("--no-vsync", action="store_true", help="do not sync to the display refresh")
    g.add_argument("--hud", action="store_true", help="show the HUD (levels, BPM, quadrant, drops; H toggles)")


def add_image_arguments(p: argparse.ArgumentParser) -> None:
    """``--images DIR`` for ``render`` and ``run`` (the image_bank preset's folder)."""
    p.add_argument("--images", default=None, metavar="DIR",
                   help="folder of images / video loops for the image_bank preset (indexed on "
                        "first use; see `sonolux images index`)")


# -- what the options build ----------------------------------------------------------------

def stream_spec(args) -> StreamSpec:
    return StreamSpec(sample_rate=args.samplerate, block_size=args.blocksize, channels=1,
                      n_fft=args.n_fft, hop=args.hop)


#: analysis knob (argparse dest) → the AnalysisConfig field it sets
KNOB_FIELDS = {"bpm_range": "bpm_range", "onset_sensitivity": "onset_k", "gate_db": "onset_gate_db",
               "silence_db": "silence_db", "region_sensitivity": "region_sensitivity",
               "region_min_s": "region_min_s", "region_cues": "region_cues", "region_judge": "region_judge",
               "region_placer": "region_placer"}


def analysis_config(args) -> AnalysisConfig:
    """The AnalysisConfig of ``args``: ``--bands`` and the analysis knobs given (flags or a
    show file); a knob not given keeps its default."""
    from ..features.bands import bands_from_edges
    from ..features.regioncues import check_cues

    fields = {}
    if getattr(args, "bands", None):
        fields["bands"] = bands_from_edges(args.bands)
    for dest, field in KNOB_FIELDS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if dest == "bpm_range":
            value = tuple(float(v) for v in value)
        elif dest == "region_cues":  # "contrast,novelty" from a flag, a list from a show file
            where = getattr(args, "show_where", {}).get(dest, "--region-cues")
            names = config.parse_list(value, where) if isinstance(value, str) else list(value)
            try:
                value = check_cues(str(n).strip() for n in names if str(n).strip())
            except ParameterError as e:
                raise ParameterError(f"{where}: {e}") from None
        fields[field] = value
    return AnalysisConfig(**fields)


def osc_targets(args, default=()) -> list:
    """TargetConfigs from --osc / --osc-profile and the override flags."""
    from ..outputs.osc import DEFAULT_PROFILE, parse_target
    from ..outputs.osc_config import load_profile, with_overrides

    if args.osc_rate is not None:
        config.number(args.osc_rate, "--osc-rate", positive=True)
    if args.osc_threshold is not None:
        config.number(args.osc_threshold, "--osc-threshold", lo=0, hi=1)
    if args.osc_delay is not None:
        config.number(args.osc_delay, "--osc-delay (ms)", lo=0, hi=10000)
    overrides = dict(threshold=args.osc_threshold, max_rate_hz=args.osc_rate,
                     bundle=True if args.osc_bundle else None, delay_ms=args.osc_delay)
    default_profile = args.osc_profile or DEFAULT_PROFILE
    show = getattr(args, "show_doc", None)
    if not args.osc and show is not None and show.targets:  # --osc on the command line wins
        targets = []
        for i, t in enumerate(show.targets):
            host, port = parse_target(t.target, f"{show.path}: osc[{i}].target")
            delay = t.delay_ms if t.delay_ms is not None else overrides["delay_ms"]
            targets.append(with_overrides(load_profile(t.profile or default_profile), host=host, port=port,
                                          **{**overrides, "delay_ms": delay}))
        return targets
    specs = args.osc or ([] if args.osc_profile else list(default))
    targets = []
    for spec_text in specs:
        addr, _, prof = spec_text.partition("@")
        host, port = parse_target(addr, "--osc")
        targets.append(with_overrides(load_profile(prof or default_profile), host=host, port=port, **overrides))
    if not specs and args.osc_profile:  # the profile's own host and port
        targets.append(with_overrides(load_profile(args.osc_profile), **overrides))
    return targets


def control_address(args) -> tuple[str, int, list | None] | None:
    """(host, port, allow-list) from --control / --control-allow, or None."""
    if not getattr(args, "control", None):
        return None
    host, port = config.parse_host_port(args.control, "--control", default_host="127.0.0.1",
                                        allow_zero=True)
    allow = config.parse_list(args.control_allow, "--control-allow") if args.control_allow else None
    return host, port, allow


def inference_setup(args):
    """(models, InferenceConfig) for a run; warnings for missing or broken models go to stderr."""
    from ..inference.runtime import InferenceConfig, load_calibration, load_models

    config.number(args.inference_every, "--inference-every (s)", positive=True, hi=30)
    config.number(args.model_threads, "--model-threads", lo=1, integer=True)
    cfg = InferenceConfig(model_dir=args.models, device=args.device, threads=args.model_threads,
                          every_s=args.inference_every, smoothing=args.smoothing,
                          calibration=getattr(args, "mood_calibration", None))
    if args.no_models:
        return {}, cfg
    models, warnings = load_models(cfg, skip_broken=True)
    if "emotion" in models and cfg.calibration:
        warnings.append(load_calibration(cfg.calibration, emotion=models["emotion"])[1])
    for w in filter(None, warnings):
        print(f"sonolux: warning: {w}", file=sys.stderr)
    return models, cfg
