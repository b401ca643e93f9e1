#!/usr/bin/env bash
# Install the project with its test extras, the browser for the dashboard test, and run every test.
# The README's test command and .ci/run both call this script.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check -e ".[dev]"
if [ -x scripts/install_browser.sh ] || [ -f scripts/install_browser.sh ]; then
    bash scripts/install_browser.sh
fi
python3 -m pytest "$@"
