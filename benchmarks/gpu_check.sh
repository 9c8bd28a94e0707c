#!/usr/bin/env bash
# The one script for a lent GPU machine: install the carried wheels, run the GPU tests and
# the CUDA FPS table, write everything under $OUT. The machine has torch + CUDA but no PyAV
# and no package registry, so PyAV travels as a wheel in .whl/ (git-ignored locally):
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 -d .whl av==18.1.0
#   then run:  OUT=gpu_results bash benchmarks/gpu_check.sh
set -uo pipefail
OUT=${OUT:-gpu_results}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="$PWD:/tmp/site" PYTHONUNBUFFERED=1 RTRETINEX_ENGINES=/tmp/engines
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 - <<'PY' | tee -a "$OUT/gpu.txt"
import av, torch
names = ("h264_cuvid", "hevc_cuvid", "h264_nvenc", "hevc_nvenc", "av1_nvenc")
print("torch", torch.__version__, "| PyAV", av.__version__, "| NVDEC/NVENC in its FFmpeg:",
      {n: n in av.codecs_available for n in names})
PY
python3 -m pytest -q -s -p no:cacheprovider tests/test_backends.py \
    tests/test_quality_regression.py -k "cuda or gpu" 2>&1 | tee "$OUT/pytest.txt" | tail -25
python3 benchmarks/fps.py --backends cuda --precision fp16 --sizes 1280x720,1920x1080,3840x2160 \
    --warmup 3 --runs 30 --budget 4 --pipeline-frames 60 --json "$OUT/fps_gpu.json" \
    --plot "$OUT/fps_gpu.png" 2>&1 | tee "$OUT/fps.txt" | tail -20
python3 benchmarks/gpu_nets.py --deadline 240 --json "$OUT/gpu_nets.json" 2>&1 | tee "$OUT/gpu_nets.txt"
