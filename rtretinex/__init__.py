"""rtretinex: real-time low-light video enhancement with RetinexNet (Wei et al. 2018)."""

# OpenCV must load before PyAV: both wheels bundle libxcb, and when PyAV's copy is loaded
# first, creating OpenCV's Qt window (--display) hangs.
import cv2  # noqa: F401

from .frame.enhancer import Enhancer
from .frame.settings import EnhanceSettings
from .jobs import enhanced_frames, transcode
from .version import __version__

__all__ = ["EnhanceSettings", "Enhancer", "__version__", "enhanced_frames", "transcode"]
