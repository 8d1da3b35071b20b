"""``deepad run`` on images: a folder of PNG files or an ``.npy`` array in, the scores CSV and
the grid PNG out (tiny images, one epoch: the command's path, not the detector, is tested)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from deepad.cli import app
from deepad.cli.image_run import is_image_input, parse_size, write_grid

runner = CliRunner()
TINY = ["-p", "epochs=1", "-p", "batch_size=8"]


def planted_images(n: int = 12, side: int = 8) -> np.ndarray:
    """Dark noisy images; the last two have a bright square (the anomalies)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 40, size=(n, side, side)).astype(np.uint8)
    images[-2:, 1:4, 1:4] = 255
    return images


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("pngs")
    for i, image in enumerate(planted_images()):
        Image.fromarray(image).save(folder / f"part_{i:02d}.png")
    return folder


def test_run_on_a_png_folder_writes_scores_and_grid(png_folder, tmp_path):
    csv, png = tmp_path / "scores.csv", tmp_path / "grid.png"
    result = runner.invoke(app, ["run", str(png_folder), *TINY, "--output", str(csv),
                                 "--plot", str(png), "--top", "3"])
    assert result.exit_code == 0, result.output
    assert "12 images, 8x8 uint8" in result.output and "top 3 images by score" in result.output
    table = pd.read_csv(csv)
    assert list(table.columns) == ["file", "score", "rank", "is_anomaly"]
    assert table["file"].tolist() == [f"part_{i:02d}.png" for i in range(12)]
    assert np.isfinite(table["score"]).all()
    assert sorted(table["rank"]) == list(range(1, 13))
    assert table.loc[table["score"].idxmax(), "rank"] == 1
    from PIL import Image

    with Image.open(png) as grid:  # a real PNG, wide enough for the image columns
        assert grid.format == "PNG" and grid.size[0] > 400


def test_run_on_an_npy_array_and_clear_errors(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, planted_images()[:, None])  # (n, 1, H, W)
    assert is_image_input(path) and is_image_input(tmp_path)
    np.save(tmp_path / "table.npy", np.zeros((5, 3)))
    assert not is_image_input(tmp_path / "table.npy")
    csv = tmp_path / "s.csv"
    result = runner.invoke(app, ["run", str(path), *TINY, "--output", str(csv),
                                 "--plot", "none"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(csv)["file"].iloc[0] == "image-00000"
    wrong = runner.invoke(app, ["run", str(path), "--detector", "DeepLog"])
    assert wrong.exit_code != 0 and "DeepLog does not accept images" in wrong.output
    assert "AutoEncoder" in wrong.output
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = runner.invoke(app, ["run", str(empty), "--plot", "none", "--output", "none"])
    assert nothing.exit_code != 0 and "no image file" in nothing.output
    with pytest.raises(ValueError, match="HEIGHTxWIDTH"):
        parse_size("big")
    assert parse_size("32x48") == (32, 48)


def test_grid_without_anomaly_maps(tmp_path):
    class NoMaps:  # a detector without anomaly_map: the grid shows the images alone
        pass

    images = planted_images(6)
    scores = images.reshape(6, -1).mean(axis=1).astype(float)
    note = write_grid(tmp_path / "g.png", NoMaps(), images, scores,
                      np.array([f"f{i}" for i in range(6)]), title="t")
    assert "no anomaly_map" in note and (tmp_path / "g.png").stat().st_size > 1000


def test_mvtec_folder_fits_on_train_and_scores_test(tmp_path):
    from PIL import Image

    from deepad.cli.image_run import read_images

    images = planted_images(6)
    for i in range(4):
        (tmp_path / "train" / "good").mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(tmp_path / "train" / "good" / f"{i}.png")
    for folder, i in (("good", 4), ("scratch", 5)):
        (tmp_path / "test" / folder).mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(tmp_path / "test" / folder / "0.png")
    found = read_images(tmp_path)
    assert found.fit.shape == (4, 8, 8) and found.score.shape == (2, 8, 8)
    assert found.names.tolist() == ["test/good/0.png", "test/scratch/0.png"]
    assert found.classes.tolist() == ["good", "scratch"] and "MVTec-AD layout" in found.description
