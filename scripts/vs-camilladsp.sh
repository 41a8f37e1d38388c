#!/usr/bin/env bash
# Side by side with CamillaDSP (docs/PERFORMANCE.md, "CamillaDSP side by side"):
#   scripts/vs-camilladsp.sh [CAMILLADSP_BINARY] [ROUNDS]
# Makes 8 stereo 60 s sines and their 16-channel merge, then runs, interleaved, the
# pass-through and processing pairs that benches/camilladsp/gen.py writes, under
# /usr/bin/time -v.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cam=${1:-}
rounds=${2:-5}
if [ -z "$cam" ]; then
  cargo install camilladsp --version 5.0.0-beta.1 --root /tmp/camilladsp
  cam=/tmp/camilladsp/bin/camilladsp
fi
tr="$here/target/release/troubadour"
w=$(mktemp -d)
cd "$w"
for i in 0 1 2 3 4 5 6 7; do
  sox -D -n -r 48000 -c 2 -b 16 "f$i.wav" synth 60 sine $((220 + 110 * i)) vol 0.0316
done
sox -M f?.wav -b 16 in16.wav
python3 "$here/benches/camilladsp/gen.py"
m() { # label, command...: one line "label cpu_s wall_s rss_kb"
  local l=$1; shift
  /usr/bin/time -v "$@" >/dev/null 2>t.txt
  awk -v l="$l" '/User time/{u=$4}/System time/{s=$4}/Maximum resident/{r=$6}
    /Elapsed/{n=split($8,a,":"); w=a[n]+(n>1?a[n-1]*60:0)}
    END{printf "%s %.2f %.2f %d\n", l, u+s, w, r}' t.txt
}
echo "load: $(cat /proc/loadavg)"
for r in $(seq "$rounds"); do
  for c in pass proc; do
    m "troubadour-$c" "$tr" render "$c.toml" --out out
    m "camilladsp-$c" "$cam" -l off "$c.yml"
  done
done | tee results.txt
echo "load: $(cat /proc/loadavg)"
sort results.txt | awk '{k=$1; c[k]=c[k]" "$2; w[k]=w[k]" "$3; r[k]=r[k]" "$4}
  END{for(k in c) print k, "cpu:" c[k], "| wall:" w[k], "| rss_kb:" r[k]}'
rm -rf "$w"
