#!/usr/bin/env bash
# Debian's Chromium and chromedriver, for the run report's screenshot (make demo) and its browser
# test. Optional: without them the screenshot and the browser test are skipped, saying why.
# As root with apt-get: installs them; otherwise prints the exact command and carries on.
set -euo pipefail
DEBS="chromium chromium-driver"
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "browser: installing $DEBS (the run report's screenshot and browser test)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $DEBS >/dev/null
else
  echo "browser: Chromium is not installed; the report's screenshot and browser test will be skipped. To add them:" >&2
  echo "  sudo apt-get install -y $DEBS" >&2
fi
