#!/usr/bin/env bash
# Rewrites constraints.txt from what the project's venv holds now.
set -euo pipefail
cd "$(dirname "$0")/.."
{ echo "# Exact versions installed by \`make\` (pip -c); regenerate with tools/freeze-constraints.sh."
  .venv/bin/pip freeze --exclude-editable | grep -v '^-e'; } > constraints.txt
