#!/bin/sh
# Regenerate the sample bulletin (docs/bulletin-sample.html and .xlsx, from
# the October 2026 history of cmd/duban/report_test.go) and its screenshot
# docs/bulletin.png with headless Chromium (Debian: apt-get install chromium
# fonts-noto-cjk). Run from anywhere: ./docs/screenshot.sh [--no-regen]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ "${1:-}" != "--no-regen" ]; then
	go test ./cmd/duban -run '^TestReportOctober2026$' -count=1 -update-docs >/dev/null
fi
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
	echo "screenshot.sh: no chromium found (apt-get install chromium fonts-noto-cjk)" >&2
	exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
	--disable-component-update --disable-sync --no-first-run --hide-scrollbars \
	--user-data-dir="$profile" --screenshot="$root/docs/bulletin.png" --window-size=1200,1400 \
	"file://$root/docs/bulletin-sample.html" 2>/dev/null
echo "wrote docs/bulletin-sample.html, docs/bulletin-sample.xlsx, docs/bulletin.png"
