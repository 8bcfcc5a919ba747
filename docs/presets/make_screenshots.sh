#!/usr/bin/env bash
# Regenerate docs/presets/*.png: `sonolux render` of the built-in demo track per preset,
# one frame just after a beat at 5 s, 640x360.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" - "$tmp/demo.wav" <<'PYEOF'
import sys, soundfile as sf
from sonolux.sources.synth import demo_track
sf.write(sys.argv[1], demo_track(48000)[: 48000 * 6], 48000)
PYEOF
for p in $("$PY" -m sonolux.cli render --list-presets | awk '{print $1}'); do
    "$PY" -m sonolux.cli render "$tmp/demo.wav" --preset "$p" --size 640x360 --fps 30 -q -o "$tmp/$p.mp4"
    ffmpeg -v error -y -ss 5.05 -i "$tmp/$p.mp4" -frames:v 1 -pred mixed "docs/presets/$p.png"
    echo "docs/presets/$p.png $(stat -c %s "docs/presets/$p.png") bytes"
done
