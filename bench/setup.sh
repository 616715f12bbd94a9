#!/usr/bin/env bash
# Create the two benchmark environments:
#   /tmp/benchvenv       the working tree, importable in place (src/ on sys.path) + cedarpy
#   /tmp/benchvenv-inst  a regular `pip install` of a snapshot of the working tree, i.e. what a
#                        user gets (grammar/ and policies/ bundled into tosguard/_data)
# Re-run it after changing src/, grammar/ or policies/ so the installed copy is current.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
DEV="${BENCH_VENV:-/tmp/benchvenv}"
INST="${BENCH_VENV_INST:-/tmp/benchvenv-inst}"

# pyproject.toml names README.md as the readme; hatchling refuses to build without it. Build
# from a snapshot so a missing README.md does not stop the benchmark (the repo is not touched).
SNAPSHOT="$(mktemp -d /tmp/tosguard-snapshot.XXXXXX)"
trap 'rm -rf "$SNAPSHOT"' EXIT
for item in pyproject.toml README.md CHANGELOG.md src grammar policies; do
  [ -e "$REPO/$item" ] && cp -r "$REPO/$item" "$SNAPSHOT/"
done
[ -e "$SNAPSHOT/README.md" ] || echo "# tosguard" > "$SNAPSHOT/README.md"
find "$SNAPSHOT" -name __pycache__ -prune -exec rm -rf {} +

[ -x "$DEV/bin/python" ] || python3 -m venv "$DEV"
if ! "$DEV/bin/pip" install --quiet -e "$REPO[bench,test]" 2>/dev/null; then
  # Same packages, with src/ put on sys.path by a .pth file instead of an editable wheel.
  "$DEV/bin/pip" install --quiet "$SNAPSHOT[bench,test]"
  "$DEV/bin/pip" uninstall --quiet --yes tosguard
  site="$("$DEV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$REPO/src" > "$site/tosguard-src.pth"
fi
"$DEV/bin/pip" install --quiet ruff pyinstrument || true

[ -x "$INST/bin/python" ] || python3 -m venv "$INST"
"$INST/bin/pip" install --quiet --force-reinstall --no-deps "$SNAPSHOT"
"$INST/bin/pip" install --quiet "$SNAPSHOT"
"$INST/bin/python" -c 'import tosguard.resources as r; print("installed:", r.policies_dir())'
