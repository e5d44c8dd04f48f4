#!/usr/bin/env bash
# Slurm job array: 16 rnnas workers on one PostgreSQL study. Create the study once, then submit:
#   rnnas study create --storage "$RNNAS_STORAGE" --study har --data uci-har:/shared/data/hapt \
#     --target nrf52840 --max-flash 32KiB --max-ram 8KiB --trials 400
#   sbatch examples/cluster/slurm-workers.sh
# Credentials come from ~/.pgpass (mode 0600) or PGPASSWORD, never from the command line: the URL
# below carries none. Models go to a shared folder so that any machine can export or deploy them.
#SBATCH --job-name=rnnas-workers
#SBATCH --array=0-15
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --time=04:00:00
#SBATCH --output=rnnas-worker-%A_%a.log
set -euo pipefail
export RNNAS_STORAGE=${RNNAS_STORAGE:-postgresql://rnnas@db.cluster.local/rnnas}
export RNNAS_MODELS_DIR=${RNNAS_MODELS_DIR:-/shared/rnnas-models}
# One worker per array task, one candidate per core it was given. A worker ends when the study's budget
# is spent; a task killed by Slurm (time limit, preemption) stops sending heartbeats and its running
# trial is failed and offered again to the other workers after --stale-after seconds.
exec rnnas worker --storage "$RNNAS_STORAGE" --study "${RNNAS_STUDY:-har}" \
  --jobs "${SLURM_CPUS_PER_TASK:-1}" --name "slurm-${SLURM_ARRAY_JOB_ID:-0}-${SLURM_ARRAY_TASK_ID:-0}" \
  --heartbeat 10 --stale-after 120
