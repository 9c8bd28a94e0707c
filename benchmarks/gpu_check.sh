#!/usr/bin/env bash
# The one script for a lent GPU machine (issue 22), about 7 minutes: install the carried
# wheels, run the GPU tests (the device path against the CPU reference), time run_stream.py's
# whole-process transcodes at 1080p and 4K against the passthrough (gpu_transcode.json) and
# the live latency, everything under $OUT. The machine has torch + CUDA but no PyAV and no
# package registry, so PyAV travels as a wheel in .whl/ (git-ignored locally):
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 -d .whl av==18.1.0
# (and so does any other import the machine lacks: the script stops at once and says which).
# Then, with the device tool: run(command="OUT=$OUT bash benchmarks/gpu_check.sh",
# carry=[".whl"], timeout_s=540), and copy $OUT/gpu_transcode.json to benchmarks/results/.
set -uo pipefail
OUT=${OUT:-gpu_results}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH="$PWD:/tmp/site" PYTHONUNBUFFERED=1 RTRETINEX_ENGINES=/tmp/engines
python3 -c "import av, cv2, numba, numpy, rich, skimage, torch" 2>&1 | tee "$OUT/imports.txt" \
    || { echo "carry the missing package as a wheel in .whl/"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 - <<'PY' | tee -a "$OUT/gpu.txt"
import av, torch
names = ("h264_cuvid", "hevc_cuvid", "h264_nvenc", "hevc_nvenc", "av1_nvenc")
print("torch", torch.__version__, "| PyAV", av.__version__, "| NVDEC/NVENC in its FFmpeg:",
      {n: n in av.codecs_available for n in names})
PY
timeout 120 python3 -m pytest -q -s -p no:cacheprovider tests/test_device.py \
    tests/test_backends.py tests/test_quality_regression.py -k "cuda or gpu or device" 2>&1 \
    | tee "$OUT/pytest.txt" | tail -25
timeout 300 python3 benchmarks/gpu_transcode.py --backend cuda \
    --json "$OUT/gpu_transcode.json" 2>&1 | tee "$OUT/transcode.txt" | tail -15
for mode in fast quality; do  # fast: what a live source takes; quality: the nets' full frame
    timeout 60 python3 benchmarks/latency.py --backend cuda --mode $mode --sizes 1920x1080 \
        --seconds 10 --json "$OUT/latency_gpu_$mode.json" 2>&1 | tee "$OUT/latency_$mode.txt" \
        | tail -8
done
