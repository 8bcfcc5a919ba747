#!/usr/bin/env bash
# One-step set-up on Debian/Ubuntu: system packages, a virtualenv in .venv, sonolux in it.
#   bash scripts/setup.sh          # to run sonolux (runtime only)
#   bash scripts/setup.sh --dev    # + test and training tools (pytest, librosa, PyTorch CPU)
#   bash scripts/setup.sh --batch  # + catalogue analysis on Ray (sonolux batch / catalogue)
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
EXTRAS="window,rig"  # rig: DMX, MIDI, OS2L (MIT / LGPL); Link (GPL-3) stays opt-in: pip install -e ".[link]"
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    --batch) EXTRAS="$EXTRAS,batch" ;;
    *) echo "setup.sh: unknown option $arg (use --dev and/or --batch)" >&2; exit 2 ;;
  esac
done

# libportaudio2: PortAudio for sounddevice; pulseaudio + libasound2-plugins: virtual devices
# (null sinks) for capture tests and loopback; liblo-tools: oscdump/oscsend, real OSC peers;
# libosmesa6: headless OpenGL; fluidsynth + timgm6mb-soundfont: MIDI rendering; ffmpeg: video.
PKGS="libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins liblo-tools libosmesa6 fluidsynth timgm6mb-soundfont ffmpeg"
# --dev: wallpapers are the offline image material of the imagery models (training, smoke test);
# ola: olad, the real sACN / Art-Net receiver of the DMX tests; jackd2: a JACK server carrying
# the MIDI tests' virtual ports where the kernel has no ALSA sequencer (/dev/snd/seq);
# iproute2 + util-linux: the private network namespace of the multicast tests (sACN, Link, mDNS);
# chromium: the browser the web panel test drives (Playwright, never a downloaded browser)
[ "$DEV" = 1 ] && PKGS="$PKGS gnome-backgrounds ola jackd2 iproute2 util-linux chromium"
missing=""
for p in $PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing system packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$DEV" = 1 ]; then
  # torch==2.13.0 is the CPU build; ask for it first so nothing pulls a CUDA build
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -e ".[$EXTRAS,dev,export]"
else
  .venv/bin/python -m pip install -q -e ".[$EXTRAS]"
fi
echo "sonolux is installed in .venv (activate with: . .venv/bin/activate)"
