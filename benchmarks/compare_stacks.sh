#!/usr/bin/env bash
# Every stack-dependent benchmark on two software stacks, side by side in one run.
#
# Usage:
#   benchmarks/compare_stacks.sh OLD_PYTHON OLD_CHECKOUT [OUT_DIR]
#   ONLY='faces|memory' benchmarks/compare_stacks.sh ...   # the commands matching a regex
#
# OLD_PYTHON runs OLD_CHECKOUT's benchmarks (e.g. a virtual environment with TensorFlow
# 2.16 and numpy 1.26, and a `git worktree` of an earlier commit beside this checkout, so
# that both find ../shared/data); `python` runs this checkout's. Each benchmark runs on the
# old stack, then on the new one, before the next benchmark starts, so that both see the
# same machine load. Logs go to OUT_DIR (default: benchmarks/stacks-<date>).
set -euo pipefail
old_python=${1:?OLD_PYTHON}
old_tree=$(cd "${2:?OLD_CHECKOUT}" && pwd)
new_tree=$(cd "$(dirname "$0")/.." && pwd)
out=${3:-$new_tree/benchmarks/stacks-$(date -u +%Y%m%d)}
mkdir -p "$out"

# Scripts relative to each checkout; STACK becomes old / new.
commands=(
  "benchmarks/bench_models.py --repeats 3"
  "benchmarks/bench_time_distributed.py --repeats 3"
  "benchmarks/bench_pipeline.py --rounds 3 --frames 20000"
  "benchmarks/bench_predict.py --rounds 3"
  "benchmarks/bench_preprocess.py --rounds 3 --skip-memory"
  "recipes/demo.py --out $out/demo-STACK"
  "benchmarks/bench_preprocess.py --skip-throughput"
  "benchmarks/bench_faces.py --rounds 3 --core 1"
)
for command in "${commands[@]}"; do
  [[ -z "${ONLY:-}" || "$command" =~ $ONLY ]] || continue
  name=$(basename "${command%%.py*}")
  [[ "$command" == *skip-throughput* ]] && name=${name}_memory
  for stack in old new; do
    if [ "$stack" = old ]; then py=$old_python tree=$old_tree; else py=python tree=$new_tree; fi
    versions=$("$py" -c 'import tensorflow as tf, numpy as np; print("TF", tf.__version__, "numpy", np.__version__)' 2>/dev/null)
    echo "=== $name on the $stack stack ($versions), $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
    start=$(date +%s)
    (cd "$tree" && PYTHONPATH=$tree TF_CPP_MIN_LOG_LEVEL=3 "$py" ${command//STACK/$stack}) > "$out/$name.$stack.log" 2>&1 \
      || echo "    failed: see $out/$name.$stack.log"
    echo "    $(( $(date +%s) - start )) s"
    grep -E '^\||held-out|frames/s|real time' "$out/$name.$stack.log" | tail -n 30 || true
  done
done
