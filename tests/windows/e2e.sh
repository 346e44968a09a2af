#!/usr/bin/env bash
# End-to-end check of the Windows build under Wine, against the Linux build on the same input.
#
#   bash tests/windows/e2e.sh [BALLOTSCAN.EXE] [LINUX-BALLOTSCAN]
#
# Defaults: the stripped copy of target/x86_64-pc-windows-gnu/release/ballotscan.exe (what
# scripts/release.sh ships) and target/release/ballotscan. Runs in a fresh WINEPREFIX in a
# temporary folder, headless (a console program needs no X server), with Vietnamese folder
# and file names and Windows paths (backslashes, drive letter Z:, which Wine maps to /).
# Every difference from the Linux build's output, and every refusal that does not happen,
# fails the script (exit 1). Needs .ci/install-windows first.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

exe=${1:-target/x86_64-pc-windows-gnu/release/ballotscan.exe}
linux=${2:-target/release/ballotscan}
for f in "$exe" "$linux"; do
  [ -x "$f" ] || [ -f "$f" ] || { echo "e2e: $f is missing: build it first" >&2; exit 1; }
done
exe=$(realpath "$exe")
linux=$(realpath "$linux")

wine=$(command -v wine64 || echo /usr/lib/wine/wine64)
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver)
[ -x "$wine" ] || { echo "e2e: wine64 is missing: run bash .ci/install-windows" >&2; exit 1; }

work=$(mktemp -d)
cleanup() {
  # The prefix's wineserver lingers a few seconds after the last program: end it first.
  WINEPREFIX="$work/prefix" "$wineserver" -k 2>/dev/null || true
  WINEPREFIX="$work/prefix" "$wineserver" -w 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# UTF-8 locale: Wine turns the command line into UTF-16 (and file names back) by it.
export LC_ALL=C.UTF-8 LANG=C.UTF-8
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEARCH=win64
# No Mono/Gecko install prompts in the fresh prefix; no window for the prefix set-up.
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
# Linux path -> the same file as Wine's Z: drive sees it, with backslashes.
winpath() { printf 'Z:%s' "$1" | tr / '\\'; }

# The exe under test, stripped as shipped, with the test-only ProcessPrng shim beside it:
# Wine 8 lacks bcryptprimitives.dll, which every Windows 10 and later has.
bin="$work/bin"
mkdir -p "$bin"
x86_64-w64-mingw32-strip -o "$bin/ballotscan.exe" "$exe"
x86_64-w64-mingw32-gcc -O2 -shared -s -o "$bin/bcryptprimitives.dll" \
  tests/windows/bcryptprimitives_shim.c tests/windows/bcryptprimitives_shim.def -ladvapi32

dlls=$(x86_64-w64-mingw32-objdump -p "$bin/ballotscan.exe" | awk '/DLL Name:/ {print tolower($3)}' | sort -u | tr '\n' ' ')
echo "e2e: ballotscan.exe $(stat -c %s "$bin/ballotscan.exe") bytes, imports: $dlls"
for d in $dlls; do
  case $d in
    kernel32.dll | ntdll.dll | advapi32.dll | bcrypt.dll | bcryptprimitives.dll | msvcrt.dll | \
      ws2_32.dll | userenv.dll | user32.dll | shell32.dll | ole32.dll | oleaut32.dll | \
      psapi.dll | api-ms-win-*) ;;
    *) fail "imports $d, which Windows does not ship (link it statically)" ;;
  esac
done

# Runs the exe in folder $1 (Windows' current folder follows the Unix one) with the rest as
# its arguments; stdout+stderr go to $log.
log="$work/wine.log"
win() {
  local dir=$1
  shift
  (cd "$dir" && "$wine" "$bin/ballotscan.exe" "$@") >"$log" 2>&1
}

# The first start of a prefix creates it (about 10 s); done once, outside any measurement.
t0=$(date +%s)
"$wine" wineboot -i >/dev/null 2>&1 || true
echo "e2e: fresh Wine prefix in $(($(date +%s) - t0)) s"
# Keep one wineserver for the whole run: otherwise each program's server lingers a few seconds
# and exits, and a program started in that moment dies with "wine client error: recvmsg:
# Connection reset by peer" (CI saw it once). cleanup ends it.
"$wineserver" -p >/dev/null 2>&1 || true

# --- The batch: the shipped samples under Vietnamese folder names, one file renamed too.
day="$work/Phiếu quét/Đợt 1"
mkdir -p "$day"
cp -r samples/. "$day/"
first=$(cd "$day" && ls | head -n1)
mv "$day/$first" "$day/phiếu-${first}"
cp fixtures/units.csv "$work/đơn vị.csv"

# The same scan on Linux, with the same relative input: the reference.
echo "e2e: scan (Linux reference)"
(cd "$work" && "$linux" scan "Phiếu quét/Đợt 1" --units "đơn vị.csv" --out "linux/Ngày 1") 2>"$work/linux-scan.txt"

echo "e2e: scan with a relative Windows path"
t0=$(date +%s)
if win "$work" scan 'Phiếu quét\Đợt 1' --units "đơn vị.csv" --out 'Kết quả\Ngày 1'; then
  pass "scan in $(($(date +%s) - t0)) s"
else
  fail "scan exited non-zero: $(cat "$log")"
fi
cp "$log" "$work/windows-scan.txt"
grep -q 'Kết quả\\Ngày 1' "$log" && pass "summary names the results folder in Vietnamese" ||
  fail "the summary does not name 'Kết quả\\Ngày 1': $(cat "$log")"
out="$work/Kết quả/Ngày 1"
for f in ballots.csv answers.csv tallies.csv summary.csv; do
  if cmp -s "$out/$f" "$work/linux/Ngày 1/$f"; then
    pass "$f byte-identical to Linux ($(wc -l <"$out/$f") lines)"
  else
    fail "$f differs from Linux: $(diff "$out/$f" "$work/linux/Ngày 1/$f" | head -n 5)"
  fi
done
grep -q "^Phiếu quét/Đợt 1/phiếu-" "$out/ballots.csv" &&
  pass "source column keeps the Vietnamese names" || fail "no Vietnamese source in ballots.csv"

echo "e2e: scan with an absolute drive-letter path into the same results folder (a rescan)"
echo "ghi chú của cán bộ" >"$out/ghi chú.txt"
if win "$repo" scan "$(winpath "$day")" --units "$(winpath "$work/đơn vị.csv")" \
  --out "$(winpath "$out")"; then
  pass "rescan over an existing results folder"
  # The same files under absolute names: known by their content, none read again.
  grep -q '59 trang giữ nguyên từ lần quét trước.*, 0 trang đọc mới' "$log" &&
    pass "the rescan kept all 59 pages without reading them" ||
    fail "the rescan read pages again: $(grep -m2 'trang' "$log")"
else
  fail "rescan exited non-zero: $(cat "$log")"
fi
for f in tallies.csv summary.csv; do
  cmp -s "$out/$f" "$work/linux/Ngày 1/$f" && pass "$f still byte-identical after the swap" ||
    fail "$f differs after the rescan"
done
# The sources are now absolute (also in duplicate_of and detail): the same rows once the
# folder is taken off.
if diff -q <(sed "s#Z:$work/##g" "$out/ballots.csv") "$work/linux/Ngày 1/ballots.csv" >/dev/null; then
  pass "ballots.csv rows name Z:/… sources and are otherwise identical"
else
  fail "ballots.csv of the absolute-path scan differs: $(diff <(sed "s#Z:$work/##g" "$out/ballots.csv") "$work/linux/Ngày 1/ballots.csv" | head -n 5)"
fi
[ "$(cat "$out/ghi chú.txt" 2>/dev/null)" = "ghi chú của cán bộ" ] &&
  pass "the clerk's own file in the results folder is kept" || fail "ghi chú.txt was lost"
left=$(ls -A "$work/Kết quả" | grep -v '^Ngày 1$' | grep -v '^\.Ngày 1\.lock$' || true)
[ -z "$left" ] && pass "no staging or backup folder left beside the results" ||
  fail "left beside the results: $left"

echo "e2e: a second scan into the same folder while one runs"
# The first is slowed (one thread, the batch three times) so the second starts inside it;
# the second starts once the first's staging folder exists, i.e. once it holds the lock.
(cd "$work" && "$wine" "$bin/ballotscan.exe" scan 'Phiếu quét\Đợt 1' 'Phiếu quét\Đợt 1' \
  'Phiếu quét\Đợt 1' --threads 1 --units "đơn vị.csv" --out 'Kết quả\Ngày 1') \
  >"$work/first.log" 2>&1 &
first_pid=$!
for _ in $(seq 1 600); do
  compgen -G "$work/Kết quả/.Ngày 1.new-*" >/dev/null && break
  sleep 0.1
done
if ! compgen -G "$work/Kết quả/.Ngày 1.new-*" >/dev/null; then
  fail "the first scan never started writing: $(cat "$work/first.log")"
elif win "$work" --lang en scan 'Phiếu quét\Đợt 1' --units "đơn vị.csv" --out 'Kết quả\Ngày 1'; then
  fail "a second scan into a folder being written was not refused"
elif grep -qF '\\?\' "$log"; then
  fail "the message shows a verbatim path (\\\\?\\): $(cat "$log")"
elif grep -q "another ballotscan is writing into" "$log"; then
  pass "refused: $(grep -o 'another ballotscan.*' "$log" | tr -d '\r' | head -n1)"
else
  fail "the second scan failed for another reason: $(cat "$log")"
fi
if wait "$first_pid"; then
  pass "the first scan finished normally"
else
  fail "the first scan failed: $(cat "$work/first.log")"
fi

echo "e2e: a swap killed between its two renames is finished by the next reader"
# What the two-rename swap leaves if killed after moving the previous set away: no folder,
# the old set and the complete new set under the same run's number.
mv "$out" "$work/Kết quả/.Ngày 1.old-4242"
cp -r "$work/linux/Ngày 1" "$work/Kết quả/.Ngày 1.new-4242"
if win "$work" review 'Kết quả\Ngày 1'; then
  pass "review ran: $(tr -d '\r' <"$log" | tail -n1)"
else
  fail "review exited non-zero: $(cat "$log")"
fi
[ -d "$out" ] && ! compgen -G "$work/Kết quả/.Ngày 1.[no]*-4242" >/dev/null &&
  pass "the results folder is back and the half swap cleaned up" ||
  fail "after the half swap: $(ls -A "$work/Kết quả")"
[ "$(cat "$out/ghi chú.txt" 2>/dev/null)" = "ghi chú của cán bộ" ] &&
  pass "the clerk's file moved into the finished folder" || fail "ghi chú.txt lost in recovery"

echo "e2e: review (the same pages and images as Linux)"
(cd "$work" && "$linux" review "linux/Ngày 1") >/dev/null 2>&1
if diff <(cd "$out/review" && find . -type f | sort) \
  <(cd "$work/linux/Ngày 1/review" && find . -type f | sort) >/dev/null; then
  pass "review/ holds the same $(find "$out/review" -type f | wc -l) files"
else
  fail "review/ files differ: $(diff <(cd "$out/review" && find . -type f | sort) <(cd "$work/linux/Ngày 1/review" && find . -type f | sort) | head -n 5)"
fi
same_images=0
total_images=0
for img in "$work/linux/Ngày 1/review"/*.jpg; do
  [ -f "$img" ] || continue
  total_images=$((total_images + 1))
  cmp -s "$img" "$out/review/$(basename "$img")" && same_images=$((same_images + 1))
done
[ "$total_images" -gt 0 ] && [ "$same_images" = "$total_images" ] && pass "all $total_images review images byte-identical" ||
  fail "$same_images of $total_images review images identical"

echo "e2e: tally with decisions, issued and units saved with CRLF (Excel, Notepad)"
src=$(awk -F, '$3 == "review" {print $1","$2","$7","$8; exit}' "$out/ballots.csv")
crlf() { sed 's/$/\r/' "$1" >"$2"; }
printf 'source,page,unit,serial,question,decision,auditor,note\n%s,*,REJECT,Trần Thị B,rách đôi\n' \
  "$src" >"$work/decisions-lf.csv"
crlf "$work/decisions-lf.csv" "$work/quyết định.csv"
printf 'form,version,unit,serial\n' >"$work/issued-lf.csv"
for s in $(seq 1 12); do printf 'CSAT,1,P-ANBIEN,%06d\n' "$s"; done >>"$work/issued-lf.csv"
crlf "$work/issued-lf.csv" "$work/đã phát.csv"
crlf fixtures/units.csv "$work/đơn vị crlf.csv"
grep -q $'\r$' "$work/quyết định.csv" || fail "the test's CRLF file has no CR"
(cd "$work" && "$linux" tally "linux/Ngày 1" --decisions "quyết định.csv" --issued "đã phát.csv" \
  --units "đơn vị crlf.csv" --out "linux/Tổng hợp") >/dev/null 2>&1 ||
  fail "Linux tally failed"
if win "$work" tally 'Kết quả\Ngày 1' --decisions 'quyết định.csv' --issued 'đã phát.csv' \
  --units 'đơn vị crlf.csv' --out 'Kết quả\Tổng hợp'; then
  pass "tally: $(head -n1 "$log" | tr -d '\r')"
else
  fail "tally exited non-zero: $(cat "$log")"
fi
for f in ballots.csv answers.csv tallies.csv summary.csv audit-trail.csv reconciliation.csv; do
  if cmp -s "$work/Kết quả/Tổng hợp/$f" "$work/linux/Tổng hợp/$f"; then
    pass "tally $f byte-identical to Linux"
  else
    fail "tally $f differs: $(diff "$work/Kết quả/Tổng hợp/$f" "$work/linux/Tổng hợp/$f" 2>&1 | head -n 5)"
  fi
done
grep -q "Trần Thị B" "$work/Kết quả/Tổng hợp/audit-trail.csv" &&
  pass "the CRLF decision was applied (auditor in the trail)" || fail "the decision was not applied"
[ -s "$work/Kết quả/Tổng hợp/report.html" ] && pass "report.html written" || fail "no report.html"

echo "e2e: generate (the same ballots as Linux)"
(cd "$work" && "$linux" generate --unit P-ANBIEN --count 3 --png --out "linux/In phiếu") >/dev/null 2>&1
if win "$work" generate --unit P-ANBIEN --count 3 --png --out 'In phiếu\P-ANBIEN'; then
  pass "generate: $(head -n1 "$log" | tr -d '\r')"
else
  fail "generate exited non-zero: $(cat "$log")"
fi
for f in $(cd "$work/linux/In phiếu" && find . -type f ! -name '.*' | sort); do
  cmp -s "$work/In phiếu/P-ANBIEN/$f" "$work/linux/In phiếu/$f" &&
    pass "generate $f byte-identical" || fail "generate $f differs from Linux"
done
echo "e2e: the printed ballots scan back (Windows)"
if win "$work" scan 'In phiếu\P-ANBIEN\png' --out 'Kết quả\Phiếu trắng'; then
  n=$(awk -F, 'NR > 1 && $7 == "P-ANBIEN"' "$work/Kết quả/Phiếu trắng/ballots.csv" | wc -l)
  [ "$n" = 3 ] && pass "3 generated ballots read back with their unit" ||
    fail "generated ballots read back: $n of 3"
else
  fail "scan of generated ballots failed: $(cat "$log")"
fi

echo "e2e: the progress bar and Vietnamese output in a console"
# On a terminal Wine gives the program a real console (GetConsoleMode succeeds), so this is
# what a clerk's console window shows: the bar is drawn, then the summary written as UTF-16.
cat >"$work/in-console.sh" <<EOF
cd "$work" && "$wine" "$bin/ballotscan.exe" scan 'Phiếu quét\Đợt 1' --threads 1 --out 'Kết quả\Thanh tiến độ'
EOF
if command -v script >/dev/null 2>&1; then
  # A second try only when Wine itself failed to start the program (not ballotscan's doing).
  for try in 1 2; do
    script -qec "bash '$work/in-console.sh'" /dev/null </dev/null >"$work/console.txt" 2>&1 || true
    grep -q 'wine client error' "$work/console.txt" || break
    echo "  (Wine failed to start the program, try $try: $(grep -m1 'wine client error' "$work/console.txt"))"
    rm -rf "$work/Kết quả/Thanh tiến độ"
  done
  grep -q '░.*/55 tệp' "$work/console.txt" && pass "the progress bar is drawn in Vietnamese (files of 55, pages so far)" ||
    fail "no progress bar in the console: $(head -c 300 "$work/console.txt")"
  # Wine's console draws through cursor moves (ESC[1C for a space): compare the text alone.
  sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$work/console.txt" | grep -q 'Kết quả\\Thanh tiến độ' &&
    pass "the console shows the Vietnamese folder name intact" ||
    fail "Vietnamese output garbled in the console: $(tail -c 300 "$work/console.txt")"
else
  fail "script (util-linux) is missing: cannot give the program a console"
fi

echo "e2e: an error names the Windows path"
if win "$work" scan 'Phiếu quét\không có' --out 'Kết quả\X'; then
  fail "a scan of a missing folder succeeded"
else
  grep -q 'Phiếu quét\\không có' "$log" && pass "error: $(grep -m1 error "$log" | tr -d '\r' | cut -c1-120)" ||
    fail "the error does not name the folder: $(cat "$log")"
fi

echo "e2e: $passes passed, $failures failed"
if [ "$failures" -gt 0 ]; then
  echo "e2e: $failures check(s) FAILED" >&2
  exit 1
fi
echo "e2e: all Windows checks passed"
