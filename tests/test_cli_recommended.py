"""``deepad run`` with no ``-d``: the recommended unsupervised detector, unsupervised even when
the table has labels (they only measure it), and the hint towards the weakly-supervised one."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from deepad.cli import app
from deepad.cli.app import RECOMMENDED_UNSUPERVISED, RECOMMENDED_WEAK
from deepad.core.registry import get_detector


def test_the_recommended_detector_is_registered_and_label_free():
    assert "unsupervised" in get_detector(RECOMMENDED_UNSUPERVISED).supervision
    assert "weakly-supervised" in get_detector(RECOMMENDED_WEAK).supervision


def test_deepad_run_uses_the_recommended_detector_without_labels(tmp_path):
    rng = np.random.default_rng(0)
    # four isolated anomalies, far out in different directions
    far = np.array([[6.0, 0.0, 0.0], [0.0, -6.0, 0.0], [0.0, 0.0, 6.0], [-5.0, 5.0, -5.0]])
    X = np.vstack([rng.normal(size=(80, 3)), far])
    path = tmp_path / "t.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=[0] * 80 + [1] * 4).to_csv(
        path, index=False)
    result = CliRunner().invoke(app, ["run", str(path), "-l", "label", "--output",
                                      str(tmp_path / "s.csv"), "--plot", "none", "--top", "4"])
    assert result.exit_code == 0, result.output
    assert f"No detector named (-d): using {RECOMMENDED_UNSUPERVISED}" in result.output
    assert f"the recommended detector is {RECOMMENDED_WEAK}" in result.output
    assert 'pip install "deepad[boost]"' in result.output  # its default booster's extra
    assert f"detector: {RECOMMENDED_UNSUPERVISED} (" in result.output
    # REPEN can take labels; as the recommendation it must not see them
    assert "weak supervision:" not in result.output
    assert "the detector did not see the labels" in result.output
    scores = pd.read_csv(tmp_path / "s.csv")
    assert set(scores.nlargest(4, "score")["row"]) == {80, 81, 82, 83}


def test_a_named_weak_detector_still_gets_revealed_labels(tmp_path):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(60, 3)), rng.normal(loc=5.0, size=(6, 3))])
    path = tmp_path / "t.csv"
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=[0] * 60 + [1] * 6).to_csv(
        path, index=False)
    result = CliRunner().invoke(app, ["run", str(path), "-l", "label", "-d", "REPEN",
                                      "--labeled-ratio", "0.5", "--output", "none",
                                      "--plot", "none", "--param", "epochs=2"])
    assert result.exit_code == 0, result.output
    assert "weak supervision: 3 of 6 anomalies revealed" in result.output
