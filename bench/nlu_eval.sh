#!/usr/bin/env bash
# NLU quality of the 理赔助手 bot: 5-fold cross-validation of the training data with
# the pipeline in config.yml, printing intent and entity F1 (weighted averages, as
# Rasa reports them) with the date and the machine. Takes a while (5 trainings).
#
#   bench/nlu_eval.sh            # from the repo root; results in results/nlu_cv/
#   CONFIG=other.yml OUT=results/other bench/nlu_eval.sh   # to compare a pipeline change
set -euo pipefail

cd "$(dirname "$0")/.."
RASA="${RASA:-.venv-bot/bin/rasa}"
PYTHON="${PYTHON:-.venv-bot/bin/python}"
OUT="${OUT:-results/nlu_cv}"
FOLDS="${FOLDS:-5}"
CONFIG="${CONFIG:-config.yml}"
export RASA_TELEMETRY_ENABLED=false

mkdir -p "$OUT"
start=$(date +%s)
"$RASA" test nlu --nlu data/nlu --config "$CONFIG" --cross-validation --folds "$FOLDS" \
  --out "$OUT" >"$OUT/run.log" 2>&1 || { tail -40 "$OUT/run.log"; exit 1; }
elapsed=$(( $(date +%s) - start ))

"$PYTHON" - "$OUT" "$FOLDS" "$elapsed" <<'PY'
import json, os, platform, sys, datetime

out, folds, elapsed = sys.argv[1], sys.argv[2], int(sys.argv[3])

def weighted(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        report = json.load(f)
    return report.get("weighted avg") or report.get("micro avg")

print(f"NLU {folds}-fold cross-validation, {datetime.date.today().isoformat()}, "
      f"{os.cpu_count()} cores {platform.machine()}, {elapsed // 60} min {elapsed % 60} s")
for label, name in [("intent", "intent_report.json"),
                    ("entity (DIET)", "DIETClassifier_report.json"),
                    ("faq answer (ResponseSelector)", "response_selection_report.json")]:
    avg = weighted(name)
    if avg:
        print(f"  {label:30s} F1 {avg['f1-score']:.3f}  precision {avg['precision']:.3f}  recall {avg['recall']:.3f}")
    else:
        print(f"  {label:30s} (no report)")

# Mean (standard deviation) over the folds, as Rasa logs them.
with open(os.path.join(out, "run.log"), encoding="utf-8") as f:
    lines = [line.split(" - ", 1)[-1].strip() for line in f if " test " in line and "F1-score" in line
             or "Entity extractor:" in line or "Intent evaluation results" in line
             or "Response Selection evaluation results" in line or "Entity evaluation results" in line]
for line in lines:
    print("  per fold: " + line)
PY
