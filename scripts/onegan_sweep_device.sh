#!/usr/bin/env bash
# One call on a lent GPU (the `device` tool): every variant of the clustering / z diagnosis
# (scripts/onegan_z_diagnosis.py) as its own process, scored at 1,200 .. 7,200 iterations or wherever
# the wall-clock deadline stops it. Rows go to $OUT/sweep.jsonl; logs to $OUT/logs.tar.gz.
#   DATA: a prepared synthetic set (carried: write_synthetic(seed=0) output), DEADLINE: minutes.
set -u
OUT=${OUT:-/tmp/sweep_out}; DATA=${DATA:-.gpu/synthetic}; DEADLINE=${DEADLINE:-6.5}
BUDGETS=${BUDGETS:-1200,2400,3600,4800,7200}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
mkdir -p "$OUT/logs"
nvidia-smi -L || true
python3 -c "import torch, sys; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available())"
run() {
    local name=$1; shift
    python3 scripts/onegan_z_diagnosis.py --name "$name" --device "${DEV:-cuda}" --data "$DATA" --work /tmp/sweep \
        --result "$OUT/sweep.jsonl" --budgets "$BUDGETS" --deadline-minutes "$DEADLINE" "$@" \
        > "$OUT/logs/$name.log" 2>&1 &
}
run base_s0 --seed 0
run base_s1 --seed 1
run base_s2 --seed 2
run px64 --set model.image_size=64 'model.background_patch_strides=[2,2,1]'
run px64_ngf32 --set model.image_size=64 'model.background_patch_strides=[2,2,1]' model.ngf=32
run ngf32 --set model.ngf=32
run ndf64 --set model.ndf=64
run batch64 --set train.batch_size=64
run lr2e-4 --set train.lr=0.0002
run z4 --set model.z_dim=4
run code32 --set model.code_dim=32
run known_codes --set 'loss.fake_reconstruction_codes="known"'
run ce2 --classification-scale 2
run phase1_only --set schedule.reconstruction=false
wait
tar -czf "$OUT/logs.tar.gz" -C "$OUT" logs && rm -rf "$OUT/logs"
python3 - "$OUT/sweep.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
for r in sorted(rows, key=lambda r: (r["name"], r["iterations"])):
    print(f'{r["name"]:12s} {r["iterations"]:5d} {r["wall_minutes"]:5.2f}m spread {r["spread"]:.2f} iou {r["iou"]:.3f} '
          f'acc {r["acc"]:.3f} nmi {r["nmi"]:.3f} pacc {r["parent_acc"]:.3f} pnmi {r["parent_nmi"]:.3f}')
PY
