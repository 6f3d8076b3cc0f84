#!/usr/bin/env bash
# Offline side-by-side: ResNet-50 TSM (8 segments, 224 px, 400 classes, random weights in
# mmaction2's layout), livetsm (`classify --bench-clips`) vs ONNX Runtime on the same
# weights, alternated round by round. Seconds per 8x224x224 clip.
#
#   bench/offline_run.sh [ROUNDS=3] [CLIPS=3] [THREADS=2]
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-3} clips=${2:-3} threads=${3:-2}
py=/usr/bin/python3
"$py" -c 'import torch' 2>/dev/null || { echo "needs Debian's python3-torch: apt-get install python3-torch" >&2; exit 1; }
[ -f out/resnet50_tsm.onnx ] || "$py" offline_export.py
[ -d node_modules/onnxruntime-node ] || npm install --ignore-scripts --no-audit --no-fund >&2
go build -o out/livetsm ../cmd/livetsm
res=out/offline_results.jsonl
: > "$res"
for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  ./out/livetsm classify --weights out/resnet50_tsm.pth --bench-clips "$clips" --threads "$threads" --json 2>/dev/null >> "$res"
  node offline_ort.js --clips "$clips" --threads "$threads" >> "$res"
done
"$py" - "$res" "$threads" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["runtime"].split()[0], []).append(r)
med = {k: statistics.median(x["median_s_per_clip"] for x in v) for k, v in by.items()}
print(f"ResNet-50 TSM, 8x3x224x224 clip, threads {sys.argv[2]}, {len(by['livetsm'])} alternated rounds, median of per-round medians:")
for k, v in by.items():
    extra = f"  (check vs PyTorch: rel err {v[0]['check_rel_err']:.1e})" if "check_rel_err" in v[0] else ""
    print(f"  {v[0]['runtime']:<28} {med[k]:6.3f} s/clip{extra}")
print(f"  livetsm / onnxruntime = {med['livetsm'] / med['onnxruntime-node']:.2f}x")
PY
