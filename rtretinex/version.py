"""The package's version (pyproject.toml reads it from here) and the ``--version`` line."""

from __future__ import annotations

import importlib.metadata

__all__ = ["__version__", "installed", "version_line"]

__version__ = "0.2.0"


def installed(package: str) -> str:
    """The installed version of ``package``, or "not installed"."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def version_line() -> str:
    """'rtretinex 0.2.0 (torch 2.13.0+cpu, openvino 2026.4.1, av 18.1.0)': what a bug report
    needs to know."""
    libraries = ", ".join(f"{name} {installed(name)}" for name in ("torch", "openvino", "av"))
    return f"rtretinex {__version__} ({libraries})"
