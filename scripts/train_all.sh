#!/usr/bin/env bash
# Train every pretrained model in models/, one after another (each run resumes where it stopped).
# Usage: bash scripts/train_all.sh [RECIPE ...]     (logs in logs/NAME.log)
# glibc keeps big freed blocks for reuse with these two settings (faster on CPU; same results).
set -euo pipefail
cd "$(dirname "$0")/.."
export MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483648
PY=${PY:-.venv/bin/python}
mkdir -p logs
run() {  # run LOGNAME ARGS...
    local name=$1; shift
    echo "$(date -u +%FT%TZ) start $name: python -m indrnn.train $*"
    "$PY" -m indrnn.train "$@" > "logs/$name.log" 2>&1
    echo "$(date -u +%FT%TZ) done  $name"
}
ALL=(basicmotions_indrnn basicmotions_lstm japanesevowels_indrnn japanesevowels_lstm
     adding1000_indrnn mnist5k_indrnn chars_indrnn chars_lstm mnist5k_lstm adding1000_lstm
     mnist5k_res21 mnist5k_lstm21 adding5000_indrnn)
for name in "${@:-${ALL[@]}}"; do
    case $name in
        adding1000_indrnn) run "$name" adding-indrnn --seq-len 1000 --steps 16000 --lr-drops 13000 ;;
        adding1000_lstm)   run "$name" adding-lstm --seq-len 1000 ;;
        adding5000_indrnn) run "$name" adding-indrnn --seq-len 5000 --steps 3000 --warmup 200 \
                               --lr 1e-4 --lr-drops 2000 --refit-readout 20 \
                               --init-from models/adding1000_indrnn ;;
        *_indrnn|*_lstm|*_res21|*_lstm21) run "$name" "${name/_/-}" ;;
        *) echo "unknown model $name" >&2; exit 2 ;;
    esac
done
