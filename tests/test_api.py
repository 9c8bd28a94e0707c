"""The Python API as the README shows it: its example block runs as written."""

import itertools
import re

import numpy as np

from rtretinex.images import write_image
from rtretinex.samples import write_dark_clip
from rtretinex.training.data import simulate_low_light

from .conftest import small_photo
from .test_cli import ROOT
from .test_cli_video import video_info


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    write_image(tmp_path / "dark.png", simulate_low_light(small_photo(height=60, width=80)))
    write_dark_clip(tmp_path / "dark.mp4", frames=8, width=96, height=64)
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    shapes, means = zip(*(line.rsplit(" ", 1) for line in printed[:8]), strict=True)
    assert set(shapes) == {"(64, 96, 3)"}
    assert max(map(int, means)) - min(map(int, means)) <= 1  # steady (114.5-114.8 when written)
    assert printed[8].startswith("8 ")
    assert len(video_info(tmp_path / "bright.mp4")[0]) == 8


def test_frame_by_frame_carries_the_temporal_state():
    """``Enhancer.frame`` is a video: fresh sensor noise on a still scene is averaged over
    frames, where independent stills (``enhancer(image)``) flicker with it."""
    from rtretinex import Enhancer

    clean = small_photo(height=90, width=160).astype(float) * 0.15
    rng = np.random.default_rng(0)
    frames = [np.clip(clean + rng.normal(0, 3, clean.shape), 0, 255).astype(np.uint8)
              for _ in range(15)]

    def temporal_change(outputs):
        return np.mean([np.abs(b.astype(float) - a).mean()
                        for a, b in itertools.pairwise(outputs[5:])])

    video = Enhancer.load(mode="fast", backend="torch-cpu")
    as_video = [video.frame(f, seconds=i / 30) for i, f in enumerate(frames)]
    stills = Enhancer.load(mode="fast", backend="torch-cpu")
    as_stills = [stills(f) for f in frames]
    assert temporal_change(as_video) < 0.6 * temporal_change(as_stills)
