#!/usr/bin/env bash
# Infrastructure linters: cfn-lint (template.yaml), statelint (statemachines/*.asl.json) and `sam validate --lint`.
# usage: scripts/lint.sh [cfn] [asl] [sam]   (no argument = all three; every check runs, the exit code says if any failed)
# aws-sam-cli pins its own boto3, so it lives in its own venv (.venv-sam), created on first use and reused while
# it holds the pinned version: a second run costs only the linters themselves.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
SAM_VENV=${SAM_VENV:-.venv-sam}
SAM_CLI_VERSION=1.170.0
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1} SAM_CLI_TELEMETRY=0

lint_cfn() { "$VENV/bin/cfn-lint" template.yaml; }

lint_asl() {
  shopt -s nullglob
  local files=(statemachines/*.asl.json)
  if [ ${#files[@]} -eq 0 ]; then echo "no statemachines/*.asl.json to lint"; return 1; fi
  "$VENV/bin/statelint" "${files[@]}"
}

ensure_sam() {
  if [ "$("$SAM_VENV/bin/sam" --version 2>/dev/null)" = "SAM CLI, version $SAM_CLI_VERSION" ]; then return 0; fi
  echo "creating $SAM_VENV with aws-sam-cli==$SAM_CLI_VERSION"
  python3 -m venv "$SAM_VENV" && "$SAM_VENV/bin/pip" install -q --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION"
}

lint_sam() { ensure_sam && "$SAM_VENV/bin/sam" validate --lint --template-file template.yaml; }

checks=("$@")
[ ${#checks[@]} -eq 0 ] && checks=(cfn asl sam)
failed=()
for check in "${checks[@]}"; do
  case "$check" in
    cfn | asl | sam) ;;
    *) echo "unknown check '$check' (cfn, asl, sam)"; exit 2 ;;
  esac
  echo "== $check"
  if "lint_$check"; then echo "== $check: ok"; else failed+=("$check"); echo "== $check: FAILED"; fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "lint failed: ${failed[*]}"; exit 1; fi
echo "lint ok: ${checks[*]}"
