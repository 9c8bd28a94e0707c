#!/usr/bin/env python3
"""The nets alone on a CUDA GPU, in the ways issue 12 asks to compare: eager fp16
channels_last (what the ``cuda`` backend does today), the same with cuDNN's autotuner
(``cudnn.benchmark``), ``torch.compile``, and a CUDA graph replay. Median ms of timed runs
(CUDA events) after warm-up, and TFLOP/s from the nets' MACs. Variants that fail become rows
with the error; ``--deadline`` stops before the GPU time runs out (later rows: skipped).

  python benchmarks/gpu_nets.py [--sizes 1280x720,1920x1080,3840x2160] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from rtretinex.nets.models import DEFAULT_WEIGHTS, RetinexHeads, count_macs, create_retinexnet

RUNS, WARMUP = 20, 3


def timed(fn, x: torch.Tensor) -> float:
    for _ in range(WARMUP):
        fn(x)
    torch.cuda.synchronize()
    times = []
    for _ in range(RUNS):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(x)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def graphed(model, x: torch.Tensor):
    """A CUDA graph of one forward pass for this input shape; replays copy into ``static``."""
    static = x.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            model(static)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outputs = model(static)

    def run(inp: torch.Tensor):
        static.copy_(inp)
        graph.replay()
        return outputs

    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1280x720,1920x1080,3840x2160")
    p.add_argument("--deadline", type=float, default=300.0, help="seconds for all rows")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    begin = time.monotonic()
    heads = RetinexHeads(create_retinexnet(DEFAULT_WEIGHTS)).cuda().half()
    heads = heads.to(memory_format=torch.channels_last).eval()
    net = create_retinexnet(DEFAULT_WEIGHTS)
    rows = []
    with torch.inference_mode():
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            x = torch.rand(1, 3, height, width, device="cuda", dtype=torch.half)
            x = x.contiguous(memory_format=torch.channels_last)
            flop = 2 * count_macs(net, height, width)
            variants = [("eager", lambda: heads, False),
                        ("eager + cudnn.benchmark", lambda: heads, True),
                        ("torch.compile", lambda: torch.compile(heads), True),
                        ("CUDA graph (+ cudnn.benchmark)", lambda x=x: graphed(heads, x), True)]
            for name, make, autotune in variants:
                row = {"size": size, "variant": name}
                if time.monotonic() - begin > args.deadline:
                    row["error"] = "skipped: --deadline reached"
                else:
                    torch.backends.cudnn.benchmark = autotune
                    try:
                        setup = time.monotonic()
                        fn = make()
                        ms = timed(fn, x)
                        row.update(ms=ms, tflops=flop / ms / 1e9,
                                   setup_s=time.monotonic() - setup)
                    except Exception as exc:  # a failing variant is a row, not a crash
                        row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({
            "command": "python benchmarks/gpu_nets.py " + " ".join(
                sys.argv[1:] if argv is None else argv),
            "gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows},
            indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
