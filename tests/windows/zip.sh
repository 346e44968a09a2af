#!/usr/bin/env bash
# The Windows zip used as docs/windows.md says, under Wine in a fresh prefix:
#
#   bash tests/windows/zip.sh dist/ballotscan-VERSION-windows-x86_64.zip [LINUX-BALLOTSCAN]
#
# Unzips into a folder with a Vietnamese name, drops the sample scans into phieu-quet (where
# the scanner is pointed), double-clicks quet-phieu.bat (cmd /c, no keyboard: `pause` reads
# end of input), then tong-hop.bat with a decisions.csv saved by Notepad (CRLF), and compares
# the tallies and summaries with the Linux build's on the same files, byte for byte. Also
# checks the zip holds what the guide promises and no DLL. Exit 1 on any difference.
set -euo pipefail
cd "$(dirname "$0")/../.."

zip=$(realpath "$1")
linux=$(realpath "${2:-target/release/ballotscan}")
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver)

work=$(mktemp -d)
cleanup() {
  # The prefix's wineserver lingers a few seconds after the last program: end it first.
  WINEPREFIX="$work/prefix" "$wineserver" -k 2>/dev/null || true
  WINEPREFIX="$work/prefix" "$wineserver" -w 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export LC_ALL=C.UTF-8 LANG=C.UTF-8
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEARCH=win64
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY

failures=0
passes=0
pass() {
  echo "  ok: $*"
  passes=$((passes + 1))
}
fail() {
  echo "  FAILED: $*" >&2
  failures=$((failures + 1))
}

echo "zip: $(basename "$zip")"
listing=$(unzip -Z1 "$zip")
if grep -qi '\.dll$' <<<"$listing"; then fail "the zip holds a DLL: $(grep -i '\.dll$' <<<"$listing")"; fi
for f in ballotscan.exe quet-phieu.bat tong-hop.bat BAT-DAU.txt HUONG-DAN-WINDOWS.md \
  WINDOWS-GUIDE.md README.md README.vi.md LICENSE-MIT LICENSE-APACHE LICENSE-DejaVu.txt \
  mau/phieu/csat-v1.toml mau/don-vi.csv; do
  grep -q "^[^/]*/$f\$" <<<"$listing" && pass "holds $f" || fail "the zip lacks $f"
done

# "Giải nén vào một thư mục riêng": a Vietnamese folder name on purpose.
home="$work/Máy quét xã"
mkdir -p "$home"
unzip -q "$zip" -d "$home"
app=$(find "$home" -mindepth 1 -maxdepth 1 -type d | head -n1)
grep -q $'\r$' "$app/quet-phieu.bat" && pass "the .bat files have CRLF line ends" ||
  fail "quet-phieu.bat has Unix line ends (cmd misreads labels)"

# Test only: Wine 8 lacks bcryptprimitives.dll, which Windows 10 and later have.
x86_64-w64-mingw32-gcc -O2 -shared -s -o "$app/bcryptprimitives.dll" \
  tests/windows/bcryptprimitives_shim.c tests/windows/bcryptprimitives_shim.def -ladvapi32

"$wine" wineboot -i >/dev/null 2>&1 || true

# The scanner drops the day's files into phieu-quet (created by the .bat on first run).
mkdir -p "$app/phieu-quet/Đợt 1"
cp -r samples/. "$app/phieu-quet/Đợt 1/"
echo "zip: quet-phieu.bat"
if (cd "$app" && "$wine" cmd /c quet-phieu.bat </dev/null) >"$work/bat.log" 2>&1; then
  pass "quet-phieu.bat ran"
else
  fail "quet-phieu.bat failed: $(cat "$work/bat.log")"
fi
tr -d '\r' <"$work/bat.log" | sed 's/^/    | /'
grep -q "XONG" "$work/bat.log" && pass "the .bat reports success in Vietnamese" ||
  fail "no XONG in the .bat's output"
[ -s "$app/ket-qua/review/index.html" ] && pass "ket-qua/review/index.html written" ||
  fail "no review page"

(cd "$app" && "$linux" scan "phieu-quet" --out "$work/linux") >/dev/null 2>&1
for f in tallies.csv summary.csv; do
  cmp -s "$app/ket-qua/$f" "$work/linux/$f" && pass "ket-qua/$f byte-identical to Linux" ||
    fail "ket-qua/$f differs: $(diff "$app/ket-qua/$f" "$work/linux/$f" | head -n 5)"
done

echo "zip: tong-hop.bat with a decisions.csv saved by Notepad"
src=$(awk -F, '$3 == "review" {print $1","$2","$7","$8; exit}' "$app/ket-qua/ballots.csv")
printf 'source,page,unit,serial,question,decision,auditor,note\r\n%s,*,REJECT,Nguyễn Văn A,phiếu rách\r\n' \
  "$src" >"$app/ket-qua/decisions.csv"
if (cd "$app" && "$wine" cmd /c tong-hop.bat </dev/null) >"$work/tally.log" 2>&1; then
  pass "tong-hop.bat ran"
else
  fail "tong-hop.bat failed: $(cat "$work/tally.log")"
fi
tr -d '\r' <"$work/tally.log" | sed 's/^/    | /'
grep -q "Nguyễn Văn A" "$app/tong-hop/audit-trail.csv" 2>/dev/null &&
  pass "the decision is in tong-hop/audit-trail.csv" || fail "the decision was not applied"
[ -s "$app/tong-hop/report.html" ] && pass "tong-hop/report.html written" || fail "no report.html"
# The same decision on Linux: the final tallies must agree byte for byte. The .bat gives
# absolute paths, so sources are Z:/… under Wine and the same path without Z: on Linux.
printf 'source,page,unit,serial,question,decision,auditor,note\n%s,*,REJECT,Nguyễn Văn A,phiếu rách\n' \
  "${src#Z:}" >"$work/decisions-linux.csv"
(cd "$app" && "$linux" scan "$app/phieu-quet" --out "$work/linux-abs" >/dev/null 2>&1 &&
  "$linux" tally "$work/linux-abs" --decisions "$work/decisions-linux.csv" --out "$work/linux-final") \
  >"$work/linux-tally.log" 2>&1 || fail "Linux tally failed: $(cat "$work/linux-tally.log")"
for f in tallies.csv summary.csv; do
  cmp -s "$app/tong-hop/$f" "$work/linux-final/$f" && pass "tong-hop/$f byte-identical to Linux" ||
    fail "tong-hop/$f differs: $(diff "$app/tong-hop/$f" "$work/linux-final/$f" 2>&1 | head -n 5)"
done

echo "zip: $passes passed, $failures failed"
if [ "$failures" -gt 0 ]; then
  echo "zip: $failures check(s) FAILED" >&2
  exit 1
fi
echo "zip: the Windows zip works as the guide says"
