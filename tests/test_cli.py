"""The `s2v` command end to end: train on files, denoise a folder, one-line errors."""

import numpy as np

from s2v.cli import main


def test_train_then_denoise_a_folder(tmp_path, rng, capsys):
    data = tmp_path / "data"
    data.mkdir()
    for k in range(2):
        np.save(data / f"img{k}.npy", rng.gamma(1.0, 1.0, (41, 37)).astype(np.float32))
    config = tmp_path / "config.json"
    from s2v.config import S2VConfig

    S2VConfig.from_preset("cpu", filters=4, depth=2, batch_size=2, patch_size=16,
                          steps_per_epoch=2, total_steps=2, checkpoint_every=2).save(config)
    assert main(["train", str(data), "--out", str(tmp_path / "run"), "--config", str(config),
                 "--domain", "intensity"]) == 0
    model = tmp_path / "run" / "model.keras"
    assert model.is_file()

    out = tmp_path / "out"
    args = ["denoise", str(data), "--out", str(out), "--model", str(model), "--domain", "intensity"]
    assert main(args) == 0
    results = sorted(out.glob("*.npy"))
    assert [p.name for p in results] == ["img0_despeckled.npy", "img1_despeckled.npy"]
    assert all(np.all(np.isfinite(np.load(p))) for p in results)
    assert main(args) == 0  # second run: nothing redone
    assert "0 despeckled, 2 already done" in capsys.readouterr().out


def test_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["denoise", str(tmp_path / "missing.png"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "missing.png" in err and "Traceback" not in err
