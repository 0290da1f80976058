#!/usr/bin/env bash
# Train the paper-size Speckle2Void network (64 feature maps x 17 convolutions per branch) on a
# lent GPU machine for a few minutes (issue 14): single-look synthetic speckle on BSD68, a new
# realisation every step, log input, Set12 11-12 validation curve every 500 steps, exactly as
# training/synthetic-L1-log/ on the CPU but at the paper's network size.
#
# That machine has JAX but no TensorFlow and no network: s2v trains there under
# KERAS_BACKEND=jax (its batches then go through a plain generator, not tf.data), with the Keras
# wheels carried from here and the images copied from ../shared/data into a git-ignored folder.
#
#   here:   bash scripts/gpu_train_paper.sh prepare        # wheels into .whl/, images into .gpu_data/
#   there:  the device tool's run, carry [".whl", ".gpu_data"], command
#           "bash scripts/gpu_train_paper.sh train 6000", timeout_s ~540
#   back:   the run's files (runs/synthetic-L1/...) come back under the tool's files_at; copy the
#           newest checkpoint, config.json, curve.json and data.json into training/<run>/ and
#           resume here (or on the next GPU) with scripts/continue_training.py as usual.
#
# A run killed at its time limit keeps its newest checkpoint (written atomically every 500
# steps) and its curve: nothing is lost but the steps since.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
prepare)
    rm -rf .whl && mkdir -p .whl
    # Keras 3 and the two of its needs that the GPU image lacks, for its Python 3.12.
    for package in "keras==$(python3 -c 'import keras; print(keras.__version__)')" namex optree; do
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
            --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
            --platform manylinux2014_x86_64 -d .whl "$package"
    done
    shared="${S2V_SHARED_DATA:-../shared/data}"
    if [ ! -d "$shared/clean/BSD68" ] || [ ! -d "$shared/clean/Set12" ]; then
        echo "prepare: $shared/clean/BSD68 and Set12 are needed (set S2V_SHARED_DATA)" >&2
        exit 1
    fi
    rm -rf .gpu_data && mkdir -p .gpu_data/clean
    cp -r "$shared/clean/BSD68" "$shared/clean/Set12" .gpu_data/clean/
    ls .whl; du -sh .whl .gpu_data
    ;;
train)
    steps="${2:-6000}"
    out="${OUT:-outputs}"
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD" KERAS_BACKEND=jax S2V_SHARED_DATA="$PWD/.gpu_data"
    export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
    python3 -c "import jax, keras; print('keras', keras.__version__, keras.backend.backend(), jax.devices())"
    python3 scripts/continue_training.py synthetic-L1 --scratch --filters 64 --depth 17 \
        --network-input log --fresh-speckle --patch-size 64 --steps "$steps" --lr 3e-4 \
        --schedule cosine --eval-every 500 --out "$out/runs" 2>&1 | tee "$out/train.log"
    ;;
*)
    echo "usage: bash scripts/gpu_train_paper.sh prepare | train [STEPS]" >&2
    exit 2
    ;;
esac
