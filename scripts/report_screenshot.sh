#!/usr/bin/env bash
# Renders a run report (report.html of `mmtrain report`) to a PNG with headless Chromium, to look at
# its layout without a desktop (docs/images/report.png is made with it).
# usage: scripts/report_screenshot.sh REPORT.html OUT.png [WIDTH [HEIGHT]]
#   WIDTH x HEIGHT: the browser window in CSS pixels (default 1300 x 4000); the page is cut at HEIGHT.
#   Chromium: Debian's `chromium` package; installed with apt-get when missing and run as root,
#   else the script says how. MM_CHROMIUM=/path/to/chrome picks another binary.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
html=$1 out=$2 width=${3:-1300} height=${4:-4000}
[ -f "$html" ] || { echo "report_screenshot: no such file: $html" >&2; exit 1; }

browser=${MM_CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
if [ -z "$browser" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "report_screenshot: installing chromium (apt-get install -y chromium)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null
    browser=$(command -v chromium)
  else
    echo "report_screenshot: chromium not found; install it (Debian: sudo apt-get install -y chromium)" \
         "or set MM_CHROMIUM to a Chrome/Chromium binary" >&2
    exit 1
  fi
fi

abs_html=$(realpath "$html")
mkdir -p "$(dirname "$out")"
abs_out=$(realpath -m "$out")
# A private profile folder: no state from (or to) a desktop browser; removed afterwards.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --user-data-dir="$profile" \
  --force-device-scale-factor=1 --window-size="$width,$height" --screenshot="$abs_out" "file://$abs_html" \
  >/dev/null 2>"$profile/stderr" || { cat "$profile/stderr" >&2; exit 1; }
[ -s "$abs_out" ] || { echo "report_screenshot: chromium wrote no screenshot" >&2; cat "$profile/stderr" >&2; exit 1; }
echo "report_screenshot: $abs_out ($(stat -c %s "$abs_out") bytes, ${width}x${height})"
