#!/usr/bin/env bash
# The paper grid (every method of Tables 1-3 and Table 3's rows, seeds 0,1,2) on CUB, Dogs and Cars as bench run
# --dry-run prints it: each cell, its resources and its GPU-hour estimate. Nothing is prepared or
# submitted (the plan needs only the arguments), so it runs anywhere:
#   bash scripts/paper_grid_dry_run.sh > results/studies/cluster/paper_grid_dry_run.txt
set -euo pipefail
cd "$(dirname "$0")/.."
echo "# bench run --dry-run of the paper grid (every method of Tables 1-3 and Table 3's rows, seeds 0,1,2) on CUB, Dogs and Cars,"
echo "# $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD). Written by scripts/paper_grid_dry_run.sh."
echo "# Training GPU-hours of OneGAN cells: the model card's FLOPs over the H100 throughput in"
echo "# results/studies/speed/bench_onegan_speed_paper_h100.txt."
for d in cub dogs cars; do
  args=(run --task all --methods all --ablations all --dataset "data/$d" --preset paper --seeds 0,1,2 --out results/paper
        --launcher slurm --partition gpu --parallel 16 --dry-run)
  echo
  echo "\$ bench ${args[*]}"
  python -m benchmark.cli "${args[@]}"
done
