#!/usr/bin/env bash
# Install everything the museum needs, once: Debian packages, a .venv, the viewer's npm packages.
# Idempotent and quick when nothing changed (stamps record what was installed).
# Used by `make demo` and `make test`; safe to run by hand.
set -euo pipefail

cd "$(dirname "$0")/.."

APT_PACKAGES=(
  ffmpeg              # video/audio pipelines (ffmpeg, ffprobe)
  libvips42           # tile pyramids, dynamic IIIF (pyvips)
  gcc                 # builds libtilejpeg.so, the streaming JPEG tile encoder (processing/images/native)
  libc6-dev           # ... its C library headers
  libjpeg-dev         # ... and libjpeg's (libjpeg-turbo, the one libvips uses too)
  libusb-1.0-0        # open3d's native library needs it
  libgomp1            # open3d, OpenMP runtime
  tesseract-ocr       # OCR of documents
  tesseract-ocr-vie   # ... in Vietnamese
  tesseract-ocr-eng   # ... and English
  espeak-ng           # spoken audio guides
  chromium            # browser tests (Playwright drives Debian's chromium)
  fonts-noto-core     # a system font with full Vietnamese coverage (posters, reports)
  fonts-dejavu-core   # the font OCR test pages are rendered in
  gltfpack            # the reference the 3D pipeline is measured against (make bench, tests)
  time                # GNU time: peak memory of each benchmarked child (make bench)
  postgresql-client   # pg_dump/pg_restore: `museum backup`/`restore` of a PostgreSQL catalog
  nginx-light         # the front proxy the deployment tests run on free ports (deploy/nginx)
)
# Only `make bench` needs these (BOOTSTRAP_BENCH=1): servers it measures against, and a load
# generator. Kept out of demo/test installs, where they would only start services on port 80.
BENCH_APT_PACKAGES=(
  iipimage-server     # IIPImage, the dynamic IIIF anchor (no ImageMagick: no recommends)
  wrk                 # HTTP load generator
)
PYTHON=${PYTHON:-python3}
VENV=.venv
EXTRAS="all,test"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || echo "$pkg"
  done
}

apt_install() {
  local runner=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "installing $* needs root; run as root or install sudo"
    runner=(sudo)
  fi
  say "Installing Debian packages: $*"
  "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # Installing nginx would start it on port 80 and enable it at boot; tests and `make bench`
  # run their own on free ports. So while apt runs, policy-rc.d refuses every service start
  # (unless the machine has a policy of its own), and on a systemd machine a freshly installed
  # nginx is disabled again (docs/deploy.md enables it on a real server).
  local policy=/usr/sbin/policy-rc.d added=0 status=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${runner[@]}" tee "$policy" >/dev/null
    "${runner[@]}" chmod 755 "$policy"
    added=1
  fi
  "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    || status=$?
  [ "$added" = 0 ] || "${runner[@]}" rm -f "$policy"
  if [[ " $* " == *" nginx-light "* ]] && [ -d /run/systemd/system ]; then
    "${runner[@]}" systemctl disable --now nginx.service >/dev/null 2>&1 || true
  fi
  return "$status"
}

system_packages() {
  local wanted=("${APT_PACKAGES[@]}")
  [ "${BOOTSTRAP_BENCH:-0}" = 1 ] && wanted+=("${BENCH_APT_PACKAGES[@]}")
  command -v node >/dev/null && command -v npm >/dev/null || wanted+=(nodejs npm)
  "$PYTHON" -m venv --help >/dev/null 2>&1 || wanted+=(python3-venv python3-pip)
  if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
    cat >&2 <<MSG
This machine has no apt (Debian/Ubuntu). Install these yourself, then run make again:
  - Python >= 3.11 with venv, Node.js >= 18 with npm
  - ffmpeg (ffmpeg + ffprobe), libvips 8.x, libusb-1.0, libgomp
  - a C compiler and libjpeg(-turbo) headers (the streaming JPEG tile encoder)
  - tesseract with the Vietnamese (vie) and English (eng) language data
  - espeak-ng, chromium (for browser tests), a font with Vietnamese coverage (Noto Sans)
MSG
    exit 1
  fi
  local missing
  mapfile -t missing < <(missing_packages "${wanted[@]}")
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
  fi
}

python_env() {
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$PYTHON is $("$PYTHON" --version 2>&1); the museum needs Python >= 3.11"
  local stamp
  stamp="$VENV/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
  [ -f "$stamp" ] && return
  [ -x "$VENV/bin/python" ] || { say "Creating $VENV"; "$PYTHON" -m venv "$VENV"; }
  say "Installing the museum and its extras into $VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e ".[$EXTRAS]"
  rm -f "$VENV"/.installed-*
  touch "$stamp"
}

viewer_packages() {
  local stamp
  stamp="viewer/node_modules/.installed-$(sha256sum < viewer/package-lock.json | cut -c1-16)"
  [ -f "$stamp" ] && return
  say "Installing the viewer's npm packages (from the lockfile)"
  (cd viewer && npm ci --no-audit --no-fund --loglevel=error)
  touch "$stamp"
}

native_library() {
  # quick when libtilejpeg.so is newer than its source
  "$VENV/bin/python" -m processing.images.native
}

system_packages
python_env
native_library
viewer_packages
