#!/usr/bin/env bash
# Table 3 at the tiny scale on a lent GPU (the `device` tool): every row of `bench run --task ablation
# --preset tiny --ablation-preset tiny` as its own process (`--ablations ROW`), all appending to one
# records file. WORK: a work dir holding the synthetic set, the evaluator and its stats cache (carried);
# DEADLINE: seconds a row may take (a row past it is not recorded). Records -> $OUT/records.jsonl.
set -u
OUT=${OUT:-/tmp/table3_out}; WORK=${WORK:-.gpu/work}; SEEDS=${SEEDS:-0}; DEADLINE=${DEADLINE:-360}
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
mkdir -p "$OUT" /tmp/table3/logs
nvidia-smi -L || true
# Every row by default: the names bench run takes (declared once, onegan.config.ABLATION_ROWS).
ROWS=${ROWS:-$(python3 -c 'from benchmark.run import parse_ablations; print(" ".join(parse_ablations(None)))')}
for row in $ROWS; do
    timeout "$DEADLINE" python3 -c 'import sys; from benchmark.cli import main; sys.exit(main())' run \
        --task ablation --preset tiny --ablation-preset tiny --ablations "$row" --seeds "$SEEDS" \
        --device "${DEV:-cuda}" --out /tmp/table3 --work "$WORK" --no-figures > "/tmp/table3/logs/$row.log" 2>&1 &
done
wait
cp /tmp/table3/records.jsonl "$OUT/records.jsonl"
tar -czf "$OUT/logs.tar.gz" -C /tmp/table3 logs
grep -h "ablation\|cut short\|Error" /tmp/table3/logs/*.log | grep -v "%|" | tail -40
python3 - "$OUT/records.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
done = sorted({r["variant"] for r in rows if r["method"] == "onegan"})
print(len(done), "rows recorded:", " ".join(done))
PY
