#!/usr/bin/env bash
# Train every pretrained model in models/, one after another (each run resumes where it stopped).
# Usage: bash scripts/train_all.sh [MODEL ...]     (logs in logs/MODEL.log)
# Each model's recipe (indrnn/recipes.py, PRETRAINED) holds its whole schedule, so this is a loop.
# glibc keeps big freed blocks for reuse with these two settings (faster on CPU; same results).
set -euo pipefail
cd "$(dirname "$0")/.."
export MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483648
PY=${PY:-.venv/bin/python}
mkdir -p logs
if [ "$#" -eq 0 ]; then mapfile -t names < <("$PY" -m indrnn.recipes); else names=("$@"); fi
for name in "${names[@]}"; do
    echo "$(date -u +%FT%TZ) start $name: python -m indrnn.train $name"
    "$PY" -m indrnn.train "$name" > "logs/$name.log" 2>&1
    echo "$(date -u +%FT%TZ) done  $name"
done
