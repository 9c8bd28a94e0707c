"""Train RetinexNet on LOL-format pairs: ``python -m rtretinex.train --data DIR``.

Stages run in order, each with its own optimiser:
  decom   Decom-Net alone on the paper's decomposition loss (low and high images);
  enhance Enhance-Net alone, Decom-Net frozen, on the paper's relighting loss;
  joint   both nets on the final output (L1 + SSIM + colour, see losses.output_loss).
A checkpoint is written every few minutes and at each stage end; ``--resume`` continues
from it exactly (weights, optimiser, step and random state). ``--time-budget`` stops early
with a checkpoint, so a run can be spread over several sessions.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from . import metrics
from .errors import InputError, UsageError, report
from .nets.models import (
    DEFAULT_WEIGHTS,
    RetinexNet,
    WeightsMeta,
    load_weights,
    save_atomic,
    save_weights,
    weights_sha256,
)
from .training.data import PairedImages, find_pairs, split_names, to_tensor, to_uint8
from .training.losses import decom_loss, output_loss, relight_loss

__all__ = ["Stage", "Trainer", "main", "parse_stages"]


@dataclass(frozen=True)
class Stage:
    """One training stage: which loss, how many steps, and the patch batch it sees."""

    name: str
    steps: int
    lr: float
    patch: int
    batch: int


STAGE_NAMES = ("decom", "enhance", "joint")
DEFAULT_STAGES = "decom:1000:1e-3:48:16,enhance:1000:1e-3:192:8,joint:6000:5e-4:128:8"


def parse_stages(spec: str) -> list[Stage]:
    """Parse ``name:steps:lr:patch:batch,...`` into stages."""
    stages = []
    for part in spec.split(","):
        fields = part.split(":")
        if len(fields) != 5 or fields[0] not in STAGE_NAMES:
            raise UsageError(
                f"bad stage {part!r}: expected name:steps:lr:patch:batch with name in {STAGE_NAMES}"
            )
        name, steps, lr, patch, batch = fields
        stages.append(Stage(name, int(steps), float(lr), int(patch), int(batch)))
    return stages


class Trainer:
    """Runs the stages, owns the optimiser, random state and checkpoints."""

    def __init__(self, model: RetinexNet, data: PairedImages, stages: list[Stage],
                 device: torch.device, bf16: bool, seed: int = 0) -> None:
        self.model = model.to(device=device, memory_format=torch.channels_last)
        self.data = data
        self.stages = stages
        self.device = device
        self.bf16 = bf16
        self.rng = np.random.default_rng(seed)
        self.stage_index = 0
        self.step = 0
        self.elapsed = 0.0
        self.optimizer = self._make_optimizer()

    @property
    def stage(self) -> Stage:
        return self.stages[self.stage_index]

    @property
    def done(self) -> bool:
        return self.stage_index >= len(self.stages)

    def _make_optimizer(self) -> torch.optim.Optimizer | None:
        if self.done:
            return None
        params = {
            "decom": self.model.decom.parameters(),
            "enhance": self.model.enhance.parameters(),
            "joint": self.model.parameters(),
        }[self.stage.name]
        return torch.optim.Adam(params, lr=self.stage.lr)

    def _lr(self) -> float:
        """Cosine decay from the stage's rate to 1 % of it."""
        progress = self.step / max(1, self.stage.steps)
        return self.stage.lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _loss(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        name = self.stage.name
        self.model.decom.requires_grad_(name != "enhance")
        self.model.enhance.requires_grad_(name != "decom")
        with self._autocast():
            if name == "decom":
                pair_lo, pair_hi = self.model.decom(low), self.model.decom(high)
            else:
                out_lo = _as_float(self.model(low))
        if name == "decom":
            return decom_loss(_as_float(pair_lo), _as_float(pair_hi), low, high)
        if name == "enhance":
            return relight_loss(out_lo, high)
        return output_loss(out_lo, low, high)

    def train_step(self) -> float:
        """One optimiser step of the current stage; advances to the next stage at its end."""
        self.model.train()
        low, high = self.data.sample(self.rng, self.stage.batch, self.stage.patch)
        low = low.to(self.device, memory_format=torch.channels_last)
        high = high.to(self.device, memory_format=torch.channels_last)
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._loss(low, high)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        if self.step >= self.stage.steps:
            self.stage_index += 1
            self.step = 0
            self.optimizer = self._make_optimizer()
        return loss.item()

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "stage_index": self.stage_index,
            "step": self.step,
            "elapsed": self.elapsed,
            "stages": [vars(s) for s in self.stages],
            "enhance_grid": self.model.enhance_grid,
            "numpy_rng": json.dumps(self.rng.bit_generator.state, default=int),
            "torch_rng": torch.get_rng_state(),
        }

    def save_checkpoint(self, path: Path) -> None:
        save_atomic(self.state(), path)

    def load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        if not _compatible(state["stages"], [vars(s) for s in self.stages], state["stage_index"],
                           state["step"]):
            raise InputError(f"checkpoint {path} was made with other --stages: finished stages "
                             "must match; unfinished ones may only change their step count, and "
                             "a finished run may only get stages appended")
        saved_grid = state.get("enhance_grid")
        if saved_grid is None:
            raise InputError(f"checkpoint {path} is from an older rtretinex (before "
                             "--enhance-grid); start a new run or use --init with its weights")
        if saved_grid != self.model.enhance_grid:
            raise InputError(f"checkpoint {path} was made with --enhance-grid {saved_grid}")
        self.model.load_state_dict(state["model"])
        self.stage_index, self.step, self.elapsed = (
            state["stage_index"], state["step"], state["elapsed"]
        )
        self.optimizer = self._make_optimizer()
        if self.optimizer is not None and state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        torch.set_rng_state(state["torch_rng"])

    @torch.inference_mode()
    def validate(self, data: PairedImages) -> dict[str, float]:
        """Mean PSNR/SSIM of the full model's output on whole validation images."""
        self.model.eval()
        scores = []
        for low, high in zip(data.low, data.high):
            x = to_tensor(low).to(self.device, memory_format=torch.channels_last)
            with self._autocast():
                out = to_uint8(self.model(x).output)[0]
            scores.append((metrics.psnr(out, high), metrics.ssim(out, high)))
        psnr, ssim = np.mean(scores, axis=0) if scores else (float("nan"), float("nan"))
        return {"psnr": round(float(psnr), 3), "ssim": round(float(ssim), 4), "n": len(scores)}


def _compatible(saved: list[dict], wanted: list[dict], stage_index: int, step: int) -> bool:
    """Resuming is allowed when finished stages are unchanged and the rest differ at most in
    their step counts (the current stage not already past its new end), or when a finished
    run gets new stages appended (fine-tuning further)."""
    if stage_index >= len(saved):
        return wanted[: len(saved)] == saved
    if len(saved) != len(wanted) or saved[:stage_index] != wanted[:stage_index]:
        return False
    rest = [({**a, "steps": 0}, {**b, "steps": 0}) for a, b in
            zip(saved[stage_index:], wanted[stage_index:])]
    return all(a == b for a, b in rest) and step < wanted[stage_index]["steps"]


def _as_float(tensors: tuple) -> tuple:
    """The same (named) tuple with every tensor in fp32 (losses run outside autocast)."""
    floats = [t.float() for t in tensors]
    return type(tensors)(*floats) if hasattr(tensors, "_fields") else tuple(floats)


def _initialise(model: RetinexNet, path: Path) -> str:
    """Load ``path``'s nets into ``model`` (keeping its enhance grid); say where they came from."""
    grid = model.enhance_grid
    meta = load_weights(model, path)
    model.enhance_grid = grid
    digest = weights_sha256(path)[:12]
    return f"; initialised from {path} (sha256 {digest}, made by: {meta.command})"


def _parse_duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rtretinex.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="LOL-format folder (low/, high/)")
    p.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help="weights file to write")
    p.add_argument("--checkpoint", type=Path, default=Path("checkpoints/train.ckpt"))
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--stages", default=DEFAULT_STAGES, help="name:steps:lr:patch:batch,...")
    p.add_argument("--enhance-grid", type=int, default=32,
                   help="Enhance-Net input: the whole frame pooled to GRIDxGRID (0: full size)")
    p.add_argument("--init", type=Path, default=None,
                   help="start from these weights (fine-tuning) instead of random ones")
    p.add_argument("--val-count", type=int, default=30, help="pairs held out for validation")
    p.add_argument("--seed", type=int, default=0,
                   help="training randomness (the validation split is fixed)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--no-bf16", dest="bf16", action="store_false", help="train in fp32")
    p.add_argument("--time-budget", type=_parse_duration, default=None,
                   help="stop with a checkpoint after this long (e.g. 90m, 2h)")
    p.add_argument("--checkpoint-every", type=_parse_duration, default=180.0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console(stderr=True)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        stages = parse_stages(args.stages)
        if args.enhance_grid < 0:
            raise UsageError(f"--enhance-grid must be >= 0, got {args.enhance_grid}")
        model = RetinexNet(args.enhance_grid)
        init_note = "" if args.init is None else _initialise(model, args.init)
        names = find_pairs(args.data)
        train_names, val_names = split_names(names, args.val_count)
        train_data = PairedImages.load(args.data, train_names)
        val_data = PairedImages.load(args.data, val_names)
    except ValueError as exc:  # UsageError (2); InputError, WeightsError (1), as in the CLI
        return report(exc)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True
    trainer = Trainer(model, train_data, stages,
                      torch.device(args.device), args.bf16, args.seed)
    if args.resume and args.checkpoint.is_file():
        try:
            trainer.load_checkpoint(args.checkpoint)
        except InputError as exc:
            return report(exc)
        console.log(f"resumed from {args.checkpoint}: stage {trainer.stage_index}, "
                    f"step {trainer.step}, {trainer.elapsed / 60:.1f} min trained")
    console.log(f"{len(train_names)} training pairs, {len(val_names)} held out; device "
                f"{args.device}, bf16={args.bf16}")

    start, last_save, last_log, losses = time.monotonic(), time.monotonic(), 0.0, []
    base_elapsed = trainer.elapsed
    while not trainer.done:
        stage_before = trainer.stage_index
        losses.append(trainer.train_step())
        now = time.monotonic()
        trainer.elapsed = base_elapsed + now - start
        if now - last_log > 30 or trainer.stage_index != stage_before:
            name = trainer.stages[stage_before].name
            step = trainer.step if trainer.stage_index == stage_before else trainer.stages[
                stage_before].steps
            console.log(f"{name} {step}/{trainer.stages[stage_before].steps} "
                        f"loss {np.mean(losses):.4f} ({trainer.elapsed / 60:.1f} min)")
            last_log, losses = now, []
        if trainer.stage_index != stage_before:
            console.log(f"after {trainer.stages[stage_before].name}: {trainer.validate(val_data)}")
        if now - last_save > args.checkpoint_every or trainer.stage_index != stage_before:
            trainer.save_checkpoint(args.checkpoint)
            last_save = now
        if args.time_budget is not None and now - start > args.time_budget:
            trainer.save_checkpoint(args.checkpoint)
            console.log(f"time budget reached; resume with --resume ({args.checkpoint})")
            return 0

    scores = trainer.validate(val_data)
    meta = WeightsMeta(
        training_data=f"{args.data} ({len(train_names)} LOL pairs; held out: {len(val_names)})",
        command="python -m rtretinex.train " + shlex.join(sys.argv[1:] if argv is None else argv),
        validation=scores,
        held_out=val_names,
        notes=f"stages {args.stages}; {trainer.elapsed / 60:.1f} min on {args.device}{init_note}",
    )
    save_weights(trainer.model.cpu(), args.out, meta)
    console.log(f"wrote {args.out}: validation {scores}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
