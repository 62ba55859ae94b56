#!/usr/bin/env bash
# make gpu-bundle: build/gpu-bundle.tar.xz, everything scripts/gpu-check.sh needs on a machine with no
# Go toolchain and no network, built here in the shared link mode:
#   bin/gotchprep            static, builds libflowssl_tch.so there
#   gotch/libtch/            gotch v0.7.0's C++ sources (adapted there)
#   bin/flowssl              links only libflowssl_tch.so's C interface
#   bin/model.test, bin/actors.test   the same, prebuilt test binaries
# The Go side is prepared in build/shared-deps with its own go.mod
# (-modfile), so .deps/gotch (the default cgo build) is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/gpu-bundle}
GO=${GO:-go}
LIBROOT=${FLOWSSL_LIBROOT:-build/libtch}
DEPS=build/shared-deps
rm -rf "$OUT" "$OUT.tar.xz"
mkdir -p "$OUT/bin" "$OUT/gotch/libtch" "$DEPS"

(cd tools/gotchprep && CGO_ENABLED=0 $GO build -trimpath -ldflags '-s -w' -o "../../$OUT/bin/gotchprep" .)
# The library for this machine's libtorch: Go binaries link against it here.
"$OUT/bin/gotchprep" -link shared -libroot "$LIBROOT" -out "$DEPS" >/dev/null
abs=$(cd "$DEPS" && pwd)/gotch
sed "s#^replace github.com/sugarme/gotch => .*#replace github.com/sugarme/gotch => $abs#" go.mod >"$DEPS/go.mod"
cp go.sum "$DEPS/go.sum"
grep -q "=> $abs" "$DEPS/go.mod" || { echo "gpu-bundle: go.mod has no gotch replace line" >&2; exit 1; }

src=$($GO mod download -json github.com/sugarme/gotch@v0.7.0 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
cp "$src"/libtch/*.cpp "$src"/libtch/*.h "$OUT/gotch/libtch/"
chmod -R u+w "$OUT/gotch"

flags=(-modfile "$DEPS/go.mod" -trimpath -ldflags '-s -w')
$GO build "${flags[@]}" -o "$OUT/bin/flowssl" ./cmd/flowssl
$GO test -c "${flags[@]}" -o "$OUT/bin/model.test" ./model
$GO test -c "${flags[@]}" -o "$OUT/bin/actors.test" ./actors

for b in flowssl model.test actors.test; do
  if readelf -d "$OUT/bin/$b" | grep -q 'NEEDED.*libtorch'; then
    echo "gpu-bundle: $b links libtorch directly; the split build failed" >&2
    exit 1
  fi
done
# Go binaries shrink about 4x under xz; the tarball is what travels (carry
# build/gpu-bundle.tar.xz), gpu-check.sh unpacks it (tar or Python's lzma).
tar -C "$(dirname "$OUT")" -cJf "$OUT.tar.xz" "$(basename "$OUT")"
size=$(du -sm "$OUT" | cut -f1)
packed=$(du -sm "$OUT.tar.xz" | cut -f1)
echo "gpu-bundle: $OUT ${size} MiB unpacked, $OUT.tar.xz ${packed} MiB:"
ls -l "$OUT/bin"
if [ "$packed" -gt 40 ]; then
  echo "gpu-bundle: ${packed} MiB is too large to travel beside the tree (64 MiB in all)" >&2
  exit 1
fi
