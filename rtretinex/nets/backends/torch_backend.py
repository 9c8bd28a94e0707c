"""PyTorch backends: ``torch-cpu`` (the fp32 reference) and ``cuda`` (FP16, channels_last)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..models import RetinexHeads, create_retinexnet
from . import Decomposition, check_frame

__all__ = ["CudaBackend", "TorchBackend", "TorchCPUBackend"]

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class TorchBackend:
    """RetinexNet in eager PyTorch (optionally ``torch.compile``d) on one device."""

    name = "torch"

    def __init__(self, weights: Path, precision: str, device: str, compile: bool = False) -> None:
        self.weights, self.precision = Path(weights), precision
        self.device = torch.device(device)
        self.dtype = _DTYPES[precision]
        heads = RetinexHeads(create_retinexnet(weights)).to(self.device, self.dtype)
        self.model = heads.to(memory_format=torch.channels_last)
        if compile:
            self.model = torch.compile(self.model, dynamic=True)

    @property
    def device_name(self) -> str:
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return "CPU"

    @torch.inference_mode()
    def infer_tensor(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(N, 3, H, W) float in [0, 1] on any device → (R, I, Î) in fp32 on this device."""
        x = batch.to(self.device, self.dtype).contiguous(memory_format=torch.channels_last)
        return tuple(t.float() for t in self.model(x))

    def __call__(self, frame: np.ndarray) -> Decomposition:
        """The frame travels as it is (uint8: a quarter of float32's bytes) and is converted
        on the device; the outputs are laid out HWC on the device, so the host gets
        contiguous arrays with no transpose of its own."""
        check_frame(frame)
        x = torch.from_numpy(np.ascontiguousarray(frame))
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        # out of place: a float32 frame's tensor is the caller's own memory
        x = x.permute(2, 0, 1).unsqueeze(0).float() / 255.0
        reflectance, illumination, enhanced = self.infer_tensor(x)
        return Decomposition(*(t.contiguous().cpu().numpy() for t in (
            reflectance[0].permute(1, 2, 0), illumination[0, 0], enhanced[0, 0])))

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


class TorchCPUBackend(TorchBackend):
    """The fp32 reference every other backend is compared against."""

    name = "torch-cpu"

    def __init__(self, weights: Path, precision: str = "fp32") -> None:
        super().__init__(weights, precision, "cpu")

    @staticmethod
    def unavailable_reason() -> str | None:
        return None


class CudaBackend(TorchBackend):
    """Torch on an NVIDIA GPU, FP16 and channels_last by default.

    ``fp32`` means IEEE fp32: it turns off TF32 convolutions and matmuls for the process
    (cuDNN uses TF32 by default, ~1e-3 off the CPU reference).
    """

    name = "cuda"

    def __init__(self, weights: Path, precision: str = "fp16", compile: bool = False) -> None:
        if precision == "fp32":
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        super().__init__(weights, precision, "cuda", compile=compile)

    @staticmethod
    def unavailable_reason() -> str | None:
        if not torch.cuda.is_available():
            return "no CUDA GPU visible to torch (needs an NVIDIA GPU and a CUDA build of torch)"
        return None
