#!/usr/bin/env bash
# Side-by-side benchmark: livetsm, ONNX Runtime and PyTorch on the same weights,
# alternated round by round in one run. See bench/README.md.
#
#   bench/run.sh [ROUNDS=5] [FRAMES=60] [THREADS=2]
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-5} frames=${2:-60} threads=${3:-2}
py=/usr/bin/python3
"$py" -c 'import torch' 2>/dev/null || { echo "needs Debian's python3-torch: apt-get install python3-torch" >&2; exit 1; }
[ -f out/tsm_w1.onnx ] || "$py" export.py
[ -d node_modules/onnxruntime-node ] || npm install --ignore-scripts --no-audit --no-fund >&2
go build -o out/livetsm ../cmd/livetsm
res=out/results.jsonl
: > "$res"
for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  ./out/livetsm bench --weights out/tsm_w1.pth --frames "$frames" --threads "$threads" --json 2>/dev/null \
    | sed 's/^{/{"runtime":"livetsm",/' >> "$res"
  node ort_bench.js --frames "$frames" --threads "$threads" >> "$res"
  "$py" torch_bench.py --frames "$frames" --threads "$threads" >> "$res"
done
"$py" - "$res" "$threads" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    name = r["runtime"].split()[0]
    by.setdefault(name, []).append(r)
med = {k: statistics.median(x["median_ms"] for x in v) for k, v in by.items()}
print(f"threads {sys.argv[2]}, {len(by['livetsm'])} alternated rounds, median of per-round medians (ms/frame):")
for k, v in by.items():
    extra = f"  (check vs PyTorch: rel err {v[0]['check_rel_err']:.1e})" if "check_rel_err" in v[0] else ""
    print(f"  {v[0]['runtime']:<28} {med[k]:7.2f} ms  {1000 / med[k]:6.1f} frames/s{extra}")
print(f"  livetsm / onnxruntime = {med['livetsm'] / med['onnxruntime-node']:.2f}x   livetsm / pytorch = {med['livetsm'] / med['pytorch']:.2f}x")
PY
