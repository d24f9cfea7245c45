#!/bin/bash
# ExecStartPre of scribefleet-worker.service: runs before every start of the worker (first boot, restarts, and boots
# out of the warm pool). Everything goes to startup.log -> the startup log group. Exit != 0 makes systemd retry.
set -uo pipefail
STARTUP_LOG=${STARTUP_LOG:-/var/log/scribefleet/startup.log}
IMDS=${IMDS_ENDPOINT:-http://169.254.169.254}
WORKER_PYTHON=${WORKER_PYTHON:-/opt/scribefleet/venv/bin/python}
mkdir -p "$(dirname "$STARTUP_LOG")" 2>/dev/null || true
exec >>"$STARTUP_LOG" 2>&1
log() { echo "$(date -Is) startup: $*"; }
imds() {  # IMDSv2 only (the launch template requires tokens)
  local token
  token=$(curl -sf -m 2 -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 60') &&
    curl -sf -m 2 -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1"
}
complete_launch_hook() {  # lets a launching instance continue (to the warm pool or into service); no-op without a hook
  INSTANCE_ID="$1" "$WORKER_PYTHON" - <<'PY' || log "no pending launch lifecycle action (ok)"
import os, boto3
boto3.client("autoscaling").complete_lifecycle_action(
    LifecycleHookName=os.environ.get("SCRIBEFLEET_LIFECYCLE_HOOK_NAME", "scribefleet-launch"),
    AutoScalingGroupName=os.environ["SCRIBEFLEET_ASG_NAME"], InstanceId=os.environ["INSTANCE_ID"], LifecycleActionResult="CONTINUE")
print("launch lifecycle action completed")
PY
}

instance_id=$(imds instance-id || echo unknown)
log "instance $instance_id, model ${SCRIBEFLEET_MODEL_DIR:-?}, diarizer ${SCRIBEFLEET_DIARIZER:-?}"

# A warm-pool instance finishes its first boot, is stopped, and is started again when the fleet scales out. It must
# not take jobs before that: wait here while the target state is Warmed:* (the ASG stops the instance meanwhile).
hook_done=0
while true; do
  state=$(imds autoscaling/target-lifecycle-state || echo none)
  case "$state" in
    Warmed:*)
      if [ "$hook_done" = 0 ]; then complete_launch_hook "$instance_id"; hook_done=1; fi
      log "in the warm pool ($state): waiting to be put in service"
      sleep "${WARM_POLL_SECONDS:-10}" ;;
    *) break ;;
  esac
done
[ "$hook_done" = 0 ] && complete_launch_hook "$instance_id"

if ! nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; then
  log "error: no NVIDIA GPU visible (driver or instance type problem)"
  exit 1
fi
dirs=("${SCRIBEFLEET_MODEL_DIR:-/missing}")
[ "${SCRIBEFLEET_DIARIZER:-}" = pyannote ] && dirs+=("${SCRIBEFLEET_DIARIZER_MODEL_DIR:-/missing}")
for dir in "${dirs[@]}"; do
  if [ ! -d "$dir" ]; then log "error: model directory $dir missing from the AMI"; exit 1; fi
done

# Pre-read the models with parallel large reads: the root volume is restored lazily from the AMI snapshot, and a
# model loader's single-threaded reads of cold blocks are far slower than this (seed lesson). Later starts hit the
# page cache and take a fraction of a second.
start_ns=$(date +%s%N)
bytes=$(find "${dirs[@]}" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
find "${dirs[@]}" -type f -print0 | xargs -0 -r -P 8 -I{} dd if={} of=/dev/null bs=4M status=none
log "models pre-read: $((bytes / 1048576)) MiB in $(( ($(date +%s%N) - start_ns) / 1000000 )) ms"
log "ready: starting the worker"
exit 0
