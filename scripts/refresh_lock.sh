#!/usr/bin/env bash
# Refresh the dependency lock on purpose, then regenerate everything that depends on it.
#
#   bash scripts/refresh_lock.sh                          # every package to today's newest within pyproject's ranges
#   bash scripts/refresh_lock.sh --upgrade-package genai-prices   # only that one (pip-compile's own option)
#
# 1. pip-compile (pip-tools) resolves pyproject.toml's dependencies and every extra into
#    requirements/lock.txt: exact versions, no package index of this machine written into it.
# 2. A brand-new virtual environment installs the project from the new lock.
# 3. In it, the golden files (tests/golden/, the price data they were made with) and the README's
#    generated figures (scripts/readme_figures.py) are regenerated.
# 4. It prints what changed: versions in the lock, then the files that moved. Review, run the
#    tests (bash scripts/test.sh), and commit the lock with what it changed, saying why.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp requirements/lock.txt "$tmp/old-lock.txt"

python3 -m venv "$tmp/tools"
"$tmp/tools/bin/python" -m pip install --quiet --disable-pip-version-check "pip-tools>=7.4,<8"
# With no argument, --upgrade; otherwise the caller's options (e.g. --upgrade-package NAME).
args=("$@"); [ ${#args[@]} -eq 0 ] && args=(--upgrade)
"$tmp/tools/bin/pip-compile" --quiet "${args[@]}" --extra dev --extra app --extra bench --strip-extras \
    --allow-unsafe --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
    --output-file requirements/lock.txt pyproject.toml 2> >(grep -v "is ignored" >&2)
# A local build label (torch's "+cpu" from a wheel on this disk) would not resolve on another machine.
sed -i -E 's/^([A-Za-z0-9._-]+==[^+ ]+)\+[A-Za-z0-9.]+$/\1/' requirements/lock.txt

echo "== versions that changed in requirements/lock.txt"
diff <(grep -E '^[A-Za-z0-9]' "$tmp/old-lock.txt") <(grep -E '^[A-Za-z0-9]' requirements/lock.txt) || true

python3 -m venv "$tmp/venv"
# shellcheck disable=SC1091
. "$tmp/venv/bin/activate"
python -m pip install --quiet --disable-pip-version-check -c requirements/lock.txt -e ".[dev]"
PLANNER_REGEN_GOLDEN=1 python -m pytest -q -p no:cacheprovider tests/test_golden.py
python scripts/readme_figures.py --table
echo "== files that changed (review, then bash scripts/test.sh, then commit)"
git status --short -- requirements tests/golden README.md docs
git diff --stat -- requirements tests/golden README.md docs
