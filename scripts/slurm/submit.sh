#!/bin/bash
# Submit a whole sharded NeuNeu collection to SLURM: N-task arrays chained with afterok dependencies, then the merge.
#
#   scripts/slurm/submit.sh N <neuneu collect arguments>
#
#   scripts/slurm/submit.sh 8 --profile full --work /shared/scratch/$USER/neuneu-full --out data/miniladder
#       mini-ladder: a training array (run k trains on shard k mod 8), a scoring array (checkpoint j scored on
#       shard j mod 8) once all training tasks succeeded, and the merge once all scoring tasks succeeded.
#   scripts/slurm/submit.sh 100 --checkpoints ckpts.tsv --profile cpu --work /shared/scratch/$USER/dd
#       pretrained checkpoints: the scoring array and the merge.
#
# Extra sbatch options (partition, account…) go in SBATCH_ARGS, e.g. SBATCH_ARGS="--partition=gpu --account=me".
# Prints the job ids. Do not pass --stage, --shard or --merge yourself: this script adds them.
set -euo pipefail

n="${1:?usage: $0 N <neuneu collect arguments>}"
shift
if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
  echo "submit.sh: N must be a positive number of shards, got '$n'" >&2
  exit 2
fi
pretrained=0
for arg in "$@"; do
  case "$arg" in
    --checkpoints|--checkpoints=*) pretrained=1 ;;
    --stage|--stage=*|--shard|--shard=*|--merge|--merge=*)
      echo "submit.sh: do not pass $arg; it is added per job" >&2
      exit 2 ;;
  esac
done

here="$(cd "$(dirname "$0")" && pwd)"
sbatch_cmd="${SBATCH:-sbatch}"
read -r -a extra <<< "${SBATCH_ARGS:-}"
array="--array=0-$(( n - 1 ))"

after=()
if (( ! pretrained )); then
  train="$("$sbatch_cmd" --parsable "${extra[@]}" "$array" "$here/collect.sbatch" "$@" --stage train)"
  train="${train%%;*}"  # --parsable prints "jobid[;cluster]"
  after=("--dependency=afterok:$train")
  echo "training array: $train"
fi
score="$("$sbatch_cmd" --parsable "${extra[@]}" "$array" "${after[@]}" "$here/collect.sbatch" "$@" --stage score)"
score="${score%%;*}"
echo "scoring array: $score"
merge="$("$sbatch_cmd" --parsable "${extra[@]}" "--dependency=afterok:$score" "$here/merge.sbatch" "$@" --merge "$n")"
echo "merge: ${merge%%;*}"
