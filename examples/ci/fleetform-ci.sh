#!/usr/bin/env bash
# fleetform in pipelines: the one script every example here calls.
#
#   fleetform-ci.sh plan    # PR / MR: plan, save it, write the Markdown comment
#   fleetform-ci.sh apply   # on merge: apply exactly the saved plan (refused if stale)
#   fleetform-ci.sh drift   # cron / timer: read-only drift check, JUnit + Markdown reports
#
# Configuration (environment):
#   FLEETFORM_MANIFEST   manifest path                      (default: fleet.yaml)
#   FLEETFORM_PLAN_FILE  saved plan path                    (default: site.plan)
#   FLEETFORM_OUT_DIR    where reports go                   (default: fleetform-out)
#   FLEETFORM_ARGS       extra plan/drift arguments, e.g. "--var-file site-vars.yaml"
#   state: the manifest's state: block, or FLEETFORM_STATE_BACKEND=postgres +
#   FLEETFORM_PG_DSN + FLEETFORM_WORKSPACE (password in PGPASSWORD), or FLEETFORM_STATE.
#   Device secrets: the ${env:...} variables the manifest references.
#
# Exit codes: plan 0 (with or without changes) / 1 error; apply 0 / 1;
# drift 0 no drift / 2 drift / 1 error.
set -euo pipefail

manifest="${FLEETFORM_MANIFEST:-fleet.yaml}"
plan_file="${FLEETFORM_PLAN_FILE:-site.plan}"
out="${FLEETFORM_OUT_DIR:-fleetform-out}"
read -r -a extra <<< "${FLEETFORM_ARGS:-}"
export NO_COLOR=1

case "${1:-}" in
  plan)
    mkdir -p "$out"
    code=0
    fleetform plan "$manifest" "${extra[@]}" --out "$plan_file" --detailed-exitcode \
      > "$out/plan.txt" || code=$?
    cat "$out/plan.txt"
    if [ "$code" -eq 1 ]; then exit 1; fi
    fleetform show "$plan_file" --format markdown > "$out/plan.md"
    ;;
  apply)
    fleetform apply "$plan_file"
    ;;
  drift)
    mkdir -p "$out"
    code=0
    fleetform drift "$manifest" "${extra[@]}" \
      --format junit --output "$out/drift.xml" \
      --format markdown --output "$out/drift.md" \
      --format json --output "$out/drift.json" || code=$?
    exit "$code"
    ;;
  *)
    echo "usage: $0 plan|apply|drift" >&2
    exit 64
    ;;
esac
