import numpy as np
import pytest
import torch

from rtretinex import train
from rtretinex.nets.models import RetinexNet, WeightsMeta, load_weights, save_weights
from rtretinex.training.data import PairedImages
from rtretinex.training.losses import output_loss


def _trainer(folder, stages, seed=0, enhance_grid=0):
    torch.manual_seed(seed)
    data = PairedImages.load(folder)
    return train.Trainer(RetinexNet(enhance_grid), data, train.parse_stages(stages),
                         torch.device("cpu"), bf16=False, seed=seed)


def test_a_few_steps_lower_the_output_loss(lol_folder):
    trainer = _trainer(lol_folder, "enhance:5:2e-3:32:4,joint:40:2e-3:32:4")
    low, high = trainer.data.sample(np.random.default_rng(123), 8, 32)

    def loss() -> float:
        trainer.model.train()
        with torch.no_grad():
            return float(output_loss(trainer.model(low), low, high))

    before = loss()
    while not trainer.done:
        trainer.train_step()
    assert loss() < 0.8 * before


def test_resume_from_a_checkpoint_is_exact(lol_folder, tmp_path):
    stages = "decom:2:1e-3:24:2,enhance:2:1e-3:24:2,joint:2:1e-3:24:2"
    straight = _trainer(lol_folder, stages)
    while not straight.done:
        straight.train_step()

    first = _trainer(lol_folder, stages)
    for _ in range(3):
        first.train_step()
    first.save_checkpoint(tmp_path / "ckpt")
    resumed = _trainer(lol_folder, stages, seed=99)  # different seed: state must come from disk
    resumed.load_checkpoint(tmp_path / "ckpt")
    while not resumed.done:
        resumed.train_step()
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_command_line_trains_and_writes_weights_with_metadata(lol_folder, tmp_path):
    out = tmp_path / "w.pt"
    args = ["--data", str(lol_folder), "--out", str(out), "--checkpoint", str(tmp_path / "c"),
            "--stages", "decom:1:1e-3:24:2,enhance:1:1e-3:24:2,joint:1:1e-3:24:2",
            "--val-count", "1", "--no-bf16"]
    assert train.main(args) == 0
    meta = load_weights(RetinexNet(), out)
    assert meta.command == "python -m rtretinex.train " + " ".join(args)
    assert meta.enhance_grid == 32  # the default
    assert len(meta.held_out) == 1 and meta.validation["n"] == 1


def test_resume_refuses_another_enhance_grid(lol_folder, tmp_path):
    from rtretinex.errors import InputError

    _trainer(lol_folder, "decom:2:1e-3:24:2", enhance_grid=32).save_checkpoint(tmp_path / "c")
    with pytest.raises(InputError, match="enhance-grid 32"):
        _trainer(lol_folder, "decom:2:1e-3:24:2", enhance_grid=16).load_checkpoint(tmp_path / "c")


def test_init_fine_tunes_from_weights_and_records_them(lol_folder, tmp_path):
    start = tmp_path / "start.pt"
    save_weights(RetinexNet(), start, WeightsMeta(command="python -m x"))
    out = tmp_path / "w.pt"
    args = ["--data", str(lol_folder), "--out", str(out), "--checkpoint", str(tmp_path / "c"),
            "--init", str(start), "--enhance-grid", "8", "--stages", "joint:1:1e-9:24:2",
            "--val-count", "1", "--no-bf16"]
    assert train.main(args) == 0
    fine = RetinexNet()
    meta = load_weights(fine, out)
    assert meta.enhance_grid == 8
    assert f"initialised from {start}" in meta.notes and "python -m x" in meta.notes
    first = RetinexNet()
    load_weights(first, start)
    for key, value in first.state_dict().items():  # a 1e-9 step barely moves them
        torch.testing.assert_close(value, fine.state_dict()[key], atol=1e-6, rtol=0)


def test_init_with_a_bad_weights_file_is_one_line_exit_1(lol_folder, tmp_path, capsys):
    """The same exit code as run_stream.py gives a bad weights file."""
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not weights")
    assert train.main(["--data", str(lol_folder), "--init", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "not a rtretinex weights file" in err and "Traceback" not in err


def test_bad_stage_spec_is_rejected():
    with pytest.raises(ValueError, match="name:steps:lr:patch:batch"):
        train.parse_stages("decom:10")


def test_resume_may_shorten_an_unfinished_stage_but_not_change_a_finished_one(lol_folder,
                                                                              tmp_path):
    trainer = _trainer(lol_folder, "decom:2:1e-3:24:2,joint:10:1e-3:24:2")
    for _ in range(3):
        trainer.train_step()
    trainer.save_checkpoint(tmp_path / "ckpt")
    shorter = _trainer(lol_folder, "decom:2:1e-3:24:2,joint:4:1e-3:24:2")
    shorter.load_checkpoint(tmp_path / "ckpt")
    for _ in range(3):  # joint was at step 1 of what is now 4
        assert not shorter.done
        shorter.train_step()
    assert shorter.done
    from rtretinex.errors import InputError

    for stages in ("decom:3:1e-3:24:2,joint:10:1e-3:24:2", "decom:2:1e-3:24:2,joint:1:1e-3:24:2",
                   "decom:2:1e-3:24:2,joint:10:1e-3:32:2"):
        with pytest.raises(InputError, match="other --stages"):
            _trainer(lol_folder, stages).load_checkpoint(tmp_path / "ckpt")


def test_a_finished_run_can_be_fine_tuned_with_appended_stages(lol_folder, tmp_path):
    done = _trainer(lol_folder, "decom:2:1e-3:24:2")
    while not done.done:
        done.train_step()
    done.save_checkpoint(tmp_path / "ckpt")
    more = _trainer(lol_folder, "decom:2:1e-3:24:2,joint:2:1e-4:24:2")
    more.load_checkpoint(tmp_path / "ckpt")
    assert more.stage.name == "joint" and not more.done
    more.train_step()
    more.train_step()
    assert more.done


def test_resume_from_an_incompatible_checkpoint_is_one_line_exit_1(lol_folder, tmp_path, capsys):
    ckpt = tmp_path / "c"
    _trainer(lol_folder, "decom:2:1e-3:24:2", enhance_grid=16).save_checkpoint(ckpt)
    args = ["--data", str(lol_folder), "--checkpoint", str(ckpt), "--resume",
            "--stages", "decom:2:1e-3:24:2", "--val-count", "1", "--out", str(tmp_path / "w")]
    assert train.main(args) == 1
    err = capsys.readouterr().err
    assert "enhance-grid 16" in err and "Traceback" not in err
    assert not (tmp_path / "w").exists()
