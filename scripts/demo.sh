#!/usr/bin/env bash
# The README's main command: installs, builds, and runs mmtrain on the embedded default.
# Today it shows the parts that exist: the debug model's resolved config and size, the synthetic
# world written in the real formats, and the dynamic split of one of its receipts. (The issues
# still open grow it into the full three-stage recipe: pretrain -> OCR CPT -> SFT -> eval.)
# Options: MM_BUILD_DIR (default build), MM_DEMO_DIR (default runs/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh
BUILD_DIR=${MM_BUILD_DIR:-build}
DEMO_DIR=${MM_DEMO_DIR:-runs/demo}
MM="$BUILD_DIR/src/cli/mmtrain"

echo "== 1/3 the debug model (configs/models/debug.yaml)"
"$MM" info --config configs/models/debug.yaml | grep '^#'

echo "== 2/3 the synthetic world -> $DEMO_DIR/world"
rm -rf "$DEMO_DIR/world"
"$MM" data synth --out "$DEMO_DIR/world"

echo "== 3/3 dynamic splitting of a text-rich image (tiles written to $DEMO_DIR/tiles)"
images=("$DEMO_DIR"/world/sft/text_rich/*.png)
"$MM" preprocess --image "${images[0]}" --tile 64 --dump "$DEMO_DIR/tiles"
echo "demo: done. Open $DEMO_DIR/world/README.md for what each file is."
