#!/usr/bin/env bash
# Creates training/.venv with the pinned requirements. Idempotent and fast when the venv is
# current: the hash of requirements.txt (plus the interpreter version) is stored in the venv, and
# a change of either re-installs. Set PYTHON to choose the interpreter (default python3, >= 3.10).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
req="$here/requirements.txt"
stamp="$venv/.feedrec-requirements.sha256"
py="${PYTHON:-python3}"

want() {
  local pyver
  pyver="$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
  printf '%s python-%s\n' "$(sha256sum "$req" | cut -d' ' -f1)" "$pyver"
}

current() {
  [ -f "$stamp" ] && [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys' 2>/dev/null &&
    [ "$(cat "$stamp")" = "$(want)" ]
}

if ! command -v "$py" >/dev/null 2>&1; then
  echo "setup-venv: $py not found; install Python 3.10+ or set PYTHON" >&2
  exit 1
fi
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
  { echo "setup-venv: $py is older than 3.10" >&2; exit 1; }

current && exit 0

# Two callers at once (a test and `npm run train`) must not install into the same venv together.
mkdir -p "$venv"
exec 9>"$venv/.feedrec.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
current && exit 0

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  echo "setup-venv: creating $venv" >&2
  find "$venv" -mindepth 1 ! -name .feedrec.lock -delete 2>/dev/null || true
  "$py" -m venv "$venv"
fi
rm -f "$stamp"
echo "setup-venv: installing $(basename "$req")" >&2
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req"
want >"$stamp"
echo "setup-venv: ready ($venv)" >&2
