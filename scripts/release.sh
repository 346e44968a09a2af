#!/usr/bin/env bash
# Builds the release binaries for Linux and Windows and one zip per platform in dist/:
#
#   bash scripts/release.sh            # builds, then writes dist/ballotscan-VERSION-{linux,windows}-x86_64.zip
#   bash scripts/release.sh --no-build # packs the binaries already in target/ (CI, after the tests)
#
# Each zip holds the stripped executable (fonts, standard form and units are embedded), the
# READMEs (English, Vietnamese), the licences (ours and DejaVu's), the standard form and units
# as editable examples (mau/), a short start guide and, for Windows, the guide and the .bat
# shortcuts. The Wine-only bcryptprimitives.dll shim of tests/windows/ is never packed.
# Needs .ci/install-windows (mingw-w64, zip).
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
[ "${1:-}" = "--no-build" ] && build=0

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
win_target=x86_64-pc-windows-gnu

if [ "$build" = 1 ]; then
  bash .ci/install-windows >/dev/null
  cargo build --release --bin ballotscan
  cargo build --release --target "$win_target" --bin ballotscan
fi

rm -rf dist
mkdir -p dist

# Text files a Windows clerk opens in Notepad or runs with cmd get CRLF line ends.
crlf() { sed 's/\r*$/\r/' "$1" >"$2"; }

# The embedded defaults, written out as the examples a clerk or IT officer edits.
examples() {
  local dir=$1
  mkdir -p "$dir/mau/phieu"
  cp fixtures/forms/csat-v1.toml "$dir/mau/phieu/csat-v1.toml"
  cp fixtures/units.csv "$dir/mau/don-vi.csv"
}

pack() {
  local platform=$1 exe=$2 strip=$3
  local name="ballotscan-$version-$platform"
  local dir="dist/$name"
  mkdir -p "$dir"
  "$strip" -o "$dir/$(basename "$exe")" "$exe"
  cp LICENSE-MIT LICENSE-APACHE assets/fonts/LICENSE-DejaVu.txt "$dir/"
  examples "$dir"
  case $platform in
    windows-*)
      crlf README.md "$dir/README.md"
      crlf README.vi.md "$dir/README.vi.md"
      crlf docs/windows.md "$dir/HUONG-DAN-WINDOWS.md"
      crlf docs/windows.en.md "$dir/WINDOWS-GUIDE.md"
      crlf scripts/windows/BAT-DAU.txt "$dir/BAT-DAU.txt"
      for bat in scripts/windows/*.bat; do
        crlf "$bat" "$dir/$(basename "$bat")"
      done
      # The guides show img/… beside them, as docs/windows*.md do in the repository.
      mkdir -p "$dir/img"
      cp docs/img/*.png "$dir/img/"
      ;;
    *)
      cp README.md README.vi.md "$dir/"
      cp scripts/linux/BAT-DAU.txt "$dir/BAT-DAU.txt"
      ;;
  esac
  # A fixed time stamp and sorted names: the same binaries give the same zip.
  find "$dir" -exec touch -h -d "@$(git log -1 --format=%ct 2>/dev/null || echo 0)" {} +
  (cd dist && find "$name" -print | LC_ALL=C sort | zip -q -X -@ "$name.zip")
  rm -rf "$dir"
  echo "dist/$name.zip: $(stat -c %s "dist/$name.zip") bytes, $(basename "$exe") $(unzip -l "dist/$name.zip" | awk -v f="$name/$(basename "$exe")" '$4 == f {print $1}') bytes stripped"
}

pack linux-x86_64 target/release/ballotscan strip
pack windows-x86_64 "target/$win_target/release/ballotscan.exe" x86_64-w64-mingw32-strip

# The Windows zip must hold no DLL at all (the test-only shim included).
if unzip -l "dist/ballotscan-$version-windows-x86_64.zip" | grep -qi '\.dll$'; then
  echo "release: the Windows zip holds a DLL" >&2
  exit 1
fi
