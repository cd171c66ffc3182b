#!/usr/bin/env bash
# One call on a lent GPU (the `device` tool's run, timeout_s 560): the GPU step study
# (scripts/gpu_step_study.py, docs/performance-gpu.md) at the paper preset in float32, then in bfloat16
# with what time is left. Reports land in $OUT (copy them to results/studies/gpu_step/ and commit).
set -u
OUT=${OUT:-/tmp/gpu_step_out}; PRESET=${PRESET:-paper}; DEVICE=${DEVICE:-cuda}  # DEVICE=cpu PRESET=smoke: a dry run
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
mkdir -p "$OUT"
nvidia-smi -L || true
python3 -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available())"
timeout 330 python3 scripts/gpu_step_study.py --device "$DEVICE" --preset "$PRESET" --out-dir "$OUT" \
    2>&1 | grep --line-buffered -v '^USDT' | tee "$OUT/fp32.log"
timeout 180 python3 scripts/gpu_step_study.py --device "$DEVICE" --preset "$PRESET" --precision bf16 \
    --paths 'old,fused-lnorm,fused-lnorm+graphs' --rounds 3 --out-dir "$OUT/bf16" \
    2>&1 | grep --line-buffered -v '^USDT' | tee "$OUT/bf16.log"
ls -R "$OUT"
