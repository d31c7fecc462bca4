#!/usr/bin/env bash
# NLU on the held-out customer messages (tests/nlu/heldout.yml, never trained on):
# intent accuracy, weighted F1, every intent's F1, and the same accuracy on the part
# of the set that is not, once punctuation is set aside, a training example. Prints
# the date and the machine. Uses the trained model (make train).
#
#   bench/nlu_eval_heldout.sh
#   MODEL=other.tar.gz OUT=results/other bench/nlu_eval_heldout.sh   # compare a variant
set -euo pipefail

cd "$(dirname "$0")/.."
RASA="${RASA:-.venv-bot/bin/rasa}"
PYTHON="${PYTHON:-.venv-bot/bin/python}"
MODEL="${MODEL:-models/claims.tar.gz}"
OUT="${OUT:-results/nlu_heldout}"
HELDOUT="${HELDOUT:-tests/nlu/heldout.yml}"
export RASA_TELEMETRY_ENABLED=false

mkdir -p "$OUT"
"$RASA" test nlu --nlu "$HELDOUT" --model "$MODEL" --out "$OUT" --successes --no-plot \
  >"$OUT/run.log" 2>&1 || { tail -40 "$OUT/run.log"; exit 1; }

"$PYTHON" - "$OUT" "$HELDOUT" "$MODEL" <<'PY'
import datetime, json, os, platform, sys

sys.path.insert(0, os.getcwd())
from rasa.shared.nlu.training_data.loading import load_data

from bot.nlu.short_messages import key_of

out, heldout, model = sys.argv[1:4]
with open(os.path.join(out, "intent_report.json"), encoding="utf-8") as f:
    report = json.load(f)
def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return json.load(f)
results = load("intent_successes.json") + load("intent_errors.json")
trained = {e.get("text") for e in load_data("data/nlu", language="zh").training_examples}
trained_keys = {key_of(t) for t in trained} - {""}
def seen(text):
    return text in trained or key_of(text) in trained_keys
novel = [r for r in results if not seen(r["text"])]
def accuracy(rows):
    ok = sum(1 for r in rows if r["intent"] == (r["intent_prediction"] or {}).get("name"))
    return ok / len(rows) if rows else float("nan")
intents = {k: v for k, v in report.items() if isinstance(v, dict) and "f1-score" in v
           and k not in ("micro avg", "macro avg", "weighted avg")}
print(f"NLU held-out set ({len(results)} messages, {len(intents)} intents), "
      f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores {platform.machine()}, "
      f"model {model}")
print(f"  intent accuracy {accuracy(results):.3f}  weighted F1 "
      f"{report['weighted avg']['f1-score']:.3f}  lowest intent F1 "
      f"{min(v['f1-score'] for v in intents.values()):.3f}")
print(f"  not a training example ({len(novel)} messages): accuracy {accuracy(novel):.3f}")
print("  per intent F1: " + ", ".join(
    f"{name} {v['f1-score']:.2f}" for name, v in sorted(intents.items(), key=lambda i: i[1]["f1-score"])))
errors = [r for r in results if r["intent"] != (r["intent_prediction"] or {}).get("name")]
for r in errors:
    print(f"  wrong: {r['text']!r} {r['intent']} -> {(r['intent_prediction'] or {}).get('name')}")
PY
