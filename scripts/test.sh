#!/usr/bin/env bash
# Install the project with its test extras at the exact versions of the committed lock
# (requirements/lock.txt, refreshed on purpose by scripts/refresh_lock.sh), the browser for the
# dashboard test, and run every test. The README's test command and .ci/run both call this script.
# The lock makes a test run independent of what the registry serves today; a user's own
# `pip install -e .` still takes the loose ranges in pyproject.toml (today's prices).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -c requirements/lock.txt -e ".[dev]"
if [ -x scripts/install_browser.sh ] || [ -f scripts/install_browser.sh ]; then
    bash scripts/install_browser.sh
fi
python3 -m pytest "$@"
