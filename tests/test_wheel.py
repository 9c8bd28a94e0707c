"""The built wheel, installed alone into a fresh environment, works outside the checkout:
--version, an image, a clip and a quick bench, with no file of the repository (the weights
come from inside the package). No network: the wheel is built without build isolation and
installed with --no-deps; the environment sees the dependencies already installed here."""

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from rtretinex import __version__
from rtretinex.images import write_image
from rtretinex.samples import write_dark_clip

from .conftest import small_photo

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(tmp: Path) -> Path:
    """The wheel of a copy of the package (building in the checkout would leave build/)."""
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "rtretinex", source / "rtretinex",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(tmp / "dist"), str(source)], check=True,
                   capture_output=True, timeout=300)
    (wheel,) = (tmp / "dist").glob("rtretinex-*.whl")
    return wheel


def fresh_environment(tmp: Path, wheel: Path) -> Path:
    """A venv with only the wheel installed; the installed dependencies are on its path
    (a plain path line: the checkout's editable install is not)."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True,
                   timeout=300)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True
                          ).stdout.strip()
    (Path(site) / "installed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.mark.slow
def test_the_wheel_works_outside_the_repository(tmp_path):
    venv = fresh_environment(tmp_path, build_wheel(tmp_path))
    work = tmp_path / "work"
    work.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def tool(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "rtretinex"), *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600)

    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import rtretinex; print(rtretinex.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    version = tool("--version")
    assert version.returncode == 0 and version.stdout.startswith(f"rtretinex {__version__}")
    write_image(work / "dark.png", small_photo("coffee", 96, 128) // 6)
    image = tool("dark.png", "-o", "bright.png")
    assert image.returncode == 0, image.stderr
    assert (work / "bright.png").stat().st_size > 0
    write_dark_clip(work / "dark.mp4", frames=8, width=160, height=96)
    clip = tool("dark.mp4", "-o", "bright.mp4")
    assert clip.returncode == 0, clip.stderr
    bench = tool("bench", "--sizes", "160x96", "--runs", "3", "--warmup", "1", "--budget", "0.5",
                 "--pipeline-frames", "6", "--latency-seconds", "1", "--json", "b.json")
    assert bench.returncode == 0, bench.stderr
    report = json.loads((work / "b.json").read_text())
    assert report["rows"][0]["pipeline_fps"] > 0 and report["latency"][0]["fps"] > 0
    assert str(venv) in report["machine"]["rtretinex"]
    # the engine cache is the user's, not the checkout's
    assert any((tmp_path / "cache" / "rtretinex" / "engines").iterdir())
