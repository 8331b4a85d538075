# edgechat's Python environment, from the wheels in this component's artifacts
# (no network needed).  Idempotent: a venv already built for this version stays.
# Last in an install script: it exits early when there is nothing to do.
venv="{work:path}/venv"
if [ -n "${EDGECHAT_DEV_VENV:-}" ]; then
  # Tests and development only: use an environment that already has edgechat.
  rm -rf "$venv" && ln -s "$EDGECHAT_DEV_VENV" "$venv" && exit 0
fi
# The unpacked artifacts' path names the component version: a new version reinstalls.
stamp="$venv/.edgechat-artifacts"
[ "$(cat "$stamp" 2>/dev/null)" = "{artifacts:decompressedPath}" ] && exit 0
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --no-index --no-cache-dir --disable-pip-version-check \
  --find-links "{artifacts:decompressedPath}/wheels-any" \
  --find-links "{artifacts:decompressedPath}/wheels-@arch@" \
  "edgechat@extras@==@package_version@"
echo "{artifacts:decompressedPath}" > "$stamp"
