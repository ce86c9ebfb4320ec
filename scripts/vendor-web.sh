#!/bin/sh
# Vendor the operators' page's libraries into api/static/vendor/, pinned by version, with their
# licences beside them. Uses npm's own client against whatever registry npm is configured for;
# nothing here names a download host, and the page loads nothing from the internet.
#   scripts/vendor-web.sh            # re-vendor the pinned versions
set -eu

LEAFLET=1.9.4          # map (BSD-2-Clause)
UPLOT=1.6.32           # charts (MIT)
SWAGGER_UI=5.35.0      # /docs offline (Apache-2.0)

root=$(cd "$(dirname "$0")/.." && pwd)
vendor="$root/api/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # name version -> unpacked in $work/<name>/package
    mkdir -p "$work/$1"
    (cd "$work/$1" && npm pack --silent "$1@$2" >/dev/null && tar -xzf ./*.tgz)
}

fetch leaflet "$LEAFLET"
fetch uplot "$UPLOT"
fetch swagger-ui-dist "$SWAGGER_UI"

rm -rf "$vendor"
mkdir -p "$vendor/leaflet/images" "$vendor/uplot" "$vendor/swagger-ui"
cp "$work/leaflet/package/dist/leaflet.js" "$work/leaflet/package/dist/leaflet.css" "$vendor/leaflet/"
cp "$work/leaflet/package/dist/images/"*.png "$vendor/leaflet/images/"
cp "$work/leaflet/package/LICENSE" "$vendor/leaflet/LICENSE"
cp "$work/uplot/package/dist/uPlot.esm.js" "$work/uplot/package/dist/uPlot.min.css" "$vendor/uplot/"
cp "$work/uplot/package/LICENSE" "$vendor/uplot/LICENSE"
cp "$work/swagger-ui-dist/package/swagger-ui-bundle.js" "$work/swagger-ui-dist/package/swagger-ui.css" \
   "$vendor/swagger-ui/"
cp "$work/swagger-ui-dist/package/LICENSE" "$vendor/swagger-ui/LICENSE"
[ -f "$work/swagger-ui-dist/package/NOTICE" ] && cp "$work/swagger-ui-dist/package/NOTICE" "$vendor/swagger-ui/NOTICE"

cat > "$vendor/VERSIONS" <<VERSIONS
leaflet $LEAFLET BSD-2-Clause
uplot $UPLOT MIT
swagger-ui-dist $SWAGGER_UI Apache-2.0
VERSIONS
(cd "$vendor" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS)
echo "vendored into $vendor"
