#!/usr/bin/env bash
# One call on a lent GPU (the `device` tool's run, timeout_s 450): the GPU step study
# (scripts/gpu_step_study.py, docs/performance-gpu.md) at the paper preset in float32 (at most
# FP32_SECONDS), then in bfloat16 (at most BF16_SECONDS; 0 skips it). Reports land in $OUT (copy them
# to results/studies/gpu_step/ and commit); a run cut by its timeout leaves its printed lines in
# $OUT/fp32.log and $OUT/bf16.log.
set -u
OUT=${OUT:-/tmp/gpu_step_out}; PRESET=${PRESET:-paper}; DEVICE=${DEVICE:-cuda}  # DEVICE=cpu PRESET=smoke: a dry run
FP32_SECONDS=${FP32_SECONDS:-300}; BF16_SECONDS=${BF16_SECONDS:-120}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
mkdir -p "$OUT"
nvidia-smi -L || true
python3 -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available())"
timeout "$FP32_SECONDS" python3 scripts/gpu_step_study.py --device "$DEVICE" --preset "$PRESET" --out-dir "$OUT" \
    2>&1 | grep --line-buffered -v '^USDT' | tee "$OUT/fp32.log"
if [ "$BF16_SECONDS" != 0 ]; then
    timeout "$BF16_SECONDS" python3 scripts/gpu_step_study.py --device "$DEVICE" --preset "$PRESET" --precision bf16 \
        --paths 'old,fused-lnorm,fused-lnorm+graphs' --rounds 3 --out-dir "$OUT/bf16" \
        2>&1 | grep --line-buffered -v '^USDT' | tee "$OUT/bf16.log"
fi
ls -R "$OUT"
