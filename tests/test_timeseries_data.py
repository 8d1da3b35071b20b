"""Time-series loaders (NAB, SMAP / MSL, UCR, SMD) and windowing.

Real data comes from ``../shared/datasets/timeseries``; expected shapes, windows and anomaly
positions are those of the READMEs there. SMD is not in the shared folder: its tests write a
small tree with the SMD layout. The window → timestamp mappings are checked against
loop-per-window oracles written here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepad.data.timeseries import (
    SeriesDataset,
    load_nab,
    load_smap_msl,
    load_smd,
    load_ucr,
    nab_series,
    smap_msl_channels,
    smd_machines,
    ucr_series,
)
from deepad.data.windows import (
    sliding_windows,
    window_labels,
    window_scores_to_points,
    window_starts,
)

needs_shared = pytest.mark.needs_shared


@pytest.fixture(scope="session")
def timeseries_dir(shared_datasets: Path) -> Path:
    return shared_datasets / "timeseries"


@pytest.fixture(scope="session")
def nab_all(timeseries_dir: Path) -> dict[str, SeriesDataset]:
    """Every NAB series of the shared folder, loaded once."""
    root = timeseries_dir / "nab"
    return {name: load_nab(name, root) for name in nab_series(root)}


@pytest.fixture
def no_data_dirs(tmp_path, monkeypatch) -> Path:
    """DEEPAD_DATA_DIR and ~/.cache/deepad pointed at empty folders."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(empty))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return empty


# ---------------------------------------------------------------------------- NAB, real
# README table: folder -> (files, total rows, labelled anomaly windows)
NAB_README = {
    "artificialNoAnomaly": (5, 20_160, 0),
    "artificialWithAnomaly": (6, 24_192, 6),
    "realAWSCloudwatch": (17, 67_740, 30),
    "realAdExchange": (6, 9_610, 14),
    "realKnownCause": (7, 69_561, 19),
    "realTraffic": (7, 15_664, 14),
    "realTweets": (10, 158_631, 33),
}


def runs_of_ones(y: np.ndarray) -> int:
    return int((np.diff(np.concatenate(([0], y, [0]))) == 1).sum())


@needs_shared
def test_nab_every_series_loads_with_window_labels(timeseries_dir, nab_all):
    windows_json = json.loads(
        (timeseries_dir / "nab" / "labels" / "combined_windows.json").read_text())
    assert len(nab_all) == 58
    assert sorted(f"{name}.csv" for name in nab_all) == sorted(windows_json)
    files, rows, windows = {}, {}, {}
    for name, data in nab_all.items():
        category = data.meta["category"]
        y = np.concatenate([data.y_train, data.y_test])
        n = len(y)
        assert data.train.shape == (int(np.floor(0.15 * n)), 1)
        assert data.test.shape == (n - len(data.train), 1)
        assert data.train.dtype == np.float64 and data.y_test.dtype == np.int64
        # oracle: compare the 'YYYY-MM-DD HH:MM:SS' strings, the JSON's without '.000000'
        path = timeseries_dir / "nab" / "data" / f"{name}.csv"
        stamps = np.loadtxt(path, delimiter=",", skiprows=1, usecols=0, dtype=str)
        expected = np.zeros(n, dtype=np.int64)
        for start, end in windows_json[f"{name}.csv"]:
            expected |= (stamps >= start[:19]) & (stamps <= end[:19])
        np.testing.assert_array_equal(y, expected)
        # every window labels one contiguous run of rows
        assert runs_of_ones(y) == len(windows_json[f"{name}.csv"])
        json.dumps(data.meta)
        files[category] = files.get(category, 0) + 1
        rows[category] = rows.get(category, 0) + n
        windows[category] = windows.get(category, 0) + runs_of_ones(y)
    assert {c: (files[c], rows[c], windows[c]) for c in files} == NAB_README
    with_anomalies = [n for n, d in nab_all.items() if d.y_train.any() or d.y_test.any()]
    assert len(with_anomalies) == 52
    without = sorted(set(nab_all) - set(with_anomalies))
    assert without == sorted([f"artificialNoAnomaly/{s}" for s in (
        "art_daily_no_noise", "art_daily_perfect_square_wave", "art_daily_small_noise",
        "art_flatline", "art_noisy")] + ["realAWSCloudwatch/ec2_cpu_utilization_c6585a"])


@needs_shared
def test_nab_nyc_taxi_first_window_by_hand(timeseries_dir, nab_all):
    data = nab_all["realKnownCause/nyc_taxi"]
    # half-hourly from 2014-07-01 00:00; first window 2014-10-30 15:30 .. 2014-11-03 22:30:
    # 121 days + 31 half hours, and 125 days + 45 half hours
    first, last = 121 * 48 + 31, 125 * 48 + 45
    y = np.concatenate([data.y_train, data.y_test])
    assert len(y) == 10_320 and data.meta["train_end"] == 1548
    assert data.meta["windows"][0] == ["2014-10-30 15:30:00.000000",
                                       "2014-11-03 22:30:00.000000"]
    assert data.meta["test_anomaly_ranges"][0] == [first - 1548, last + 1 - 1548]
    assert y[first - 1] == 0 and y[first:last + 1].all() and y[last + 1] == 0
    assert data.train[0, 0] == 10_844.0 and data.train[1, 0] == 8127.0
    for alias in ("nyc_taxi", "nyc_taxi.csv", "realKnownCause/nyc_taxi.csv"):
        other = load_nab(alias, timeseries_dir / "nab")
        assert other.name == "realKnownCause/nyc_taxi"
        np.testing.assert_array_equal(other.test, data.test)


@needs_shared
def test_nab_probationary_labels_are_kept_in_train(timeseries_dir, nab_all):
    data = nab_all["realKnownCause/machine_temperature_system_failure"]
    assert data.y_train.sum() > 0 and data.meta["train_labelled"]
    half = load_nab("realKnownCause/nyc_taxi", timeseries_dir / "nab", train_fraction=0.6)
    whole = nab_all["realKnownCause/nyc_taxi"]
    assert len(half.train) == int(0.6 * 10_320) and half.y_train.sum() > 0
    np.testing.assert_array_equal(np.concatenate([half.y_train, half.y_test]),
                                  np.concatenate([whole.y_train, whole.y_test]))


# ---------------------------------------------------------------------------- SMAP / MSL, real
SMAP_MSL_README = [
    ("A-1", "SMAP", (2880, 25), (8640, 25), [[4690, 4774]]),
    ("E-1", "SMAP", (2880, 25), (8516, 25), [[5000, 5030], [5610, 6086]]),
    ("P-1", "SMAP", (2872, 25), (8505, 25), [[2149, 2349], [4536, 4844], [3539, 3779]]),
    ("C-1", "MSL", (2158, 55), (2264, 55), [[550, 750], [2100, 2210]]),
    ("M-1", "MSL", (2209, 55), (2277, 55), [[1110, 2250]]),
    ("T-4", "MSL", (2272, 55), (2217, 55), [[1172, 1240]]),
]


@needs_shared
def test_smap_msl_lists_the_six_channels(timeseries_dir):
    assert smap_msl_channels(timeseries_dir / "smap_msl") == sorted(
        row[0] for row in SMAP_MSL_README)


@needs_shared
@pytest.mark.parametrize("row", SMAP_MSL_README, ids=[row[0] for row in SMAP_MSL_README])
def test_smap_msl_channel_matches_readme(timeseries_dir, row):
    channel, spacecraft, train_shape, test_shape, sequences = row
    data = load_smap_msl(channel, timeseries_dir / "smap_msl")
    assert data.name == channel and data.meta["spacecraft"] == spacecraft
    assert data.train.shape == train_shape and data.test.shape == test_shape
    assert data.n_channels == train_shape[1]
    assert data.meta["sequences"] == sequences
    assert len(data.meta["classes"]) == len(sequences)
    expected = np.zeros(test_shape[0], dtype=np.int64)
    for start, end in sequences:
        expected[start:end + 1] = 1
    np.testing.assert_array_equal(data.y_test, expected)
    assert not data.y_train.any() and data.meta["train_labelled"] is False
    raw = np.load(timeseries_dir / "smap_msl" / "test" / f"{channel}.npy")
    np.testing.assert_array_equal(data.test, raw)
    json.dumps(data.meta)


# ---------------------------------------------------------------------------- UCR, real
UCR_README = [
    ("135_UCR_Anomaly_InternalBleeding16_1200_4187_4199", 7501, 1200, 4187, 4199),
    ("136_UCR_Anomaly_InternalBleeding17_1600_3198_3309", 7500, 1600, 3198, 3309),
    ("137_UCR_Anomaly_InternalBleeding18_2300_4485_4587", 7500, 2300, 4485, 4587),
    ("138_UCR_Anomaly_InternalBleeding19_3000_4187_4197", 7500, 3000, 4187, 4197),
]


@needs_shared
@pytest.mark.parametrize("row", UCR_README, ids=[row[0][:3] for row in UCR_README])
def test_ucr_series_matches_readme(timeseries_dir, row):
    stem, length, train_end, begin, end = row
    root = timeseries_dir / "ucr_anomaly_2021"
    data = load_ucr(stem[:3], root)
    raw = np.loadtxt(root / f"{stem}.txt")
    assert data.name == stem and len(raw) == length
    assert data.train.shape == (train_end, 1) and data.test.shape == (length - train_end, 1)
    np.testing.assert_array_equal(np.concatenate([data.train, data.test])[:, 0], raw)
    y = np.concatenate([data.y_train, data.y_test])
    # 1-based inclusive begin..end -> 0-based begin - 1 .. end - 1
    np.testing.assert_array_equal(np.flatnonzero(y), np.arange(begin - 1, end))
    assert data.meta["train_end"] == train_end
    assert data.meta["anomaly"] == [begin - 1, end]
    assert data.meta["anomaly_1based"] == [begin, end]
    assert data.meta["test_anomaly_ranges"] == [[begin - 1 - train_end, end - train_end]]
    json.dumps(data.meta)
    for alias in (stem, f"{stem}.txt", root / f"{stem}.txt", stem.split("_")[3]):
        assert load_ucr(alias, root).name == stem


@needs_shared
def test_ucr_lists_files_in_id_order(timeseries_dir):
    assert ucr_series(timeseries_dir / "ucr_anomaly_2021") == [row[0] for row in UCR_README]


@needs_shared
def test_default_roots_come_from_deepad_data_dir(shared_datasets, tmp_path, monkeypatch):
    # the layouts sit two levels below the data folder (timeseries/<source>)
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(shared_datasets))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_nab("nyc_taxi").name == "realKnownCause/nyc_taxi"
    assert load_smap_msl("T-4").test.shape == (2217, 55)
    assert load_ucr("138").meta["train_end"] == 3000
    assert len(nab_series()) == 58


# ---------------------------------------------------------------------------- SMD, fake tree
def write_smd(base: Path, machine: str, train: np.ndarray, test: np.ndarray,
              labels: np.ndarray) -> None:
    for part, values, fmt in (("train", train, "%.6f"), ("test", test, "%.6f"),
                              ("test_label", labels[:, None], "%d")):
        (base / part).mkdir(parents=True, exist_ok=True)
        np.savetxt(base / part / f"{machine}.txt", values, delimiter=",", fmt=fmt)


@pytest.fixture
def smd_tree(tmp_path) -> Path:
    """``tmp_path/data/ServerMachineDataset`` with machines 1-1, 1-2 and 1-10."""
    base = tmp_path / "data" / "ServerMachineDataset"
    rng = np.random.default_rng(0)
    for i, machine in enumerate(("machine-1-1", "machine-1-2", "machine-1-10")):
        labels = np.zeros(30, dtype=np.int64)
        labels[10 + i:15 + i] = 1
        write_smd(base, machine, rng.random((40, 4)).round(6), rng.random((30, 4)).round(6),
                  labels)
    return base


def test_smd_fake_tree_loads(smd_tree):
    assert smd_machines(smd_tree) == ["machine-1-1", "machine-1-2", "machine-1-10"]
    data = load_smd("machine-1-2", smd_tree)
    assert data.name == "machine-1-2" and data.n_channels == 4
    assert data.train.shape == (40, 4) and data.test.shape == (30, 4)
    np.testing.assert_allclose(
        data.test, np.loadtxt(smd_tree / "test" / "machine-1-2.txt", delimiter=","))
    np.testing.assert_array_equal(np.flatnonzero(data.y_test), np.arange(11, 16))
    assert not data.y_train.any() and data.meta["train_labelled"] is False
    assert data.meta["test_anomaly_ranges"] == [[11, 16]]
    json.dumps(data.meta)
    # found from two levels above, and through DEEPAD_DATA_DIR
    assert load_smd("machine-1-10.txt", smd_tree.parents[1]).name == "machine-1-10"


def test_smd_found_through_deepad_data_dir(smd_tree, monkeypatch):
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(smd_tree.parents[1]))
    monkeypatch.setenv("HOME", str(smd_tree.parents[1] / "home"))
    assert load_smd("machine-1-1").test.shape == (30, 4)
    assert smd_machines() == ["machine-1-1", "machine-1-2", "machine-1-10"]


def test_smd_missing_file_names_file_and_layout(smd_tree):
    (smd_tree / "test_label" / "machine-1-1.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"test_label/machine-1-1\.txt") as error:
        load_smd("machine-1-1", smd_tree)
    assert "DEEPAD_DATA_DIR" in str(error.value) and str(smd_tree) in str(error.value)
    with pytest.raises(FileNotFoundError, match="machine-9-9"):
        load_smd("machine-9-9", smd_tree)


@pytest.mark.parametrize("defect", ["ragged", "nan", "text", "labels", "label_length",
                                  "columns"])
def test_smd_malformed_content_raises_value_error(smd_tree, defect):
    train_file = smd_tree / "train" / "machine-1-1.txt"
    label_file = smd_tree / "test_label" / "machine-1-1.txt"
    lines = train_file.read_text().splitlines()
    if defect == "ragged":
        train_file.write_text("\n".join([*lines, "1.0,2.0"]) + "\n")
    elif defect == "nan":
        train_file.write_text("\n".join([*lines, "1.0,nan,2.0,3.0"]) + "\n")
    elif defect == "text":
        train_file.write_text("\n".join([*lines, "1.0,abc,2.0,3.0"]) + "\n")
    elif defect == "labels":
        label_file.write_text("0\n" * 29 + "2\n")
    elif defect == "label_length":
        label_file.write_text("0\n" * 29)
    else:
        train_file.write_text("\n".join(line + ",0.5" for line in lines) + "\n")
    with pytest.raises(ValueError, match="machine-1-1"):
        load_smd("machine-1-1", smd_tree)


# ---------------------------------------------------------------------------- SMAP / MSL, fake
def write_smap_msl(base: Path, rows: list[str], channels: dict[str, tuple[int, int]]) -> None:
    for part in ("train", "test"):
        (base / part).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for channel, (n_train, n_test) in channels.items():
        np.save(base / "train" / f"{channel}.npy", rng.random((n_train, 3)))
        np.save(base / "test" / f"{channel}.npy", rng.random((n_test, 3)))
    header = "chan_id,spacecraft,anomaly_sequences,class,num_values"
    (base / "labeled_anomalies.csv").write_text("\n".join([header, *rows]) + "\n")


def test_smap_msl_duplicate_rows_are_merged(tmp_path):
    write_smap_msl(tmp_path, [
        'P-2,SMAP,"[[50, 60]]",[point],100',
        'X-1,SMAP,"[[1, 2]]",[point],90',
        'P-2,SMAP,"[[55, 70], [80, 81]]","[point, contextual]",100',
    ], {"P-2": (40, 100)})
    data = load_smap_msl("P-2", tmp_path)
    assert data.meta["sequences"] == [[50, 60], [55, 70], [80, 81]]
    assert data.meta["classes"] == ["point", "point", "contextual"]
    assert data.meta["csv_rows"] == 2
    assert data.meta["test_anomaly_ranges"] == [[50, 71], [80, 82]]
    assert data.y_test.sum() == 21 + 2


@pytest.mark.parametrize(("row", "match"), [
    ('P-2,SMAP,"[[50, 60]]",[point],99', "num_values"),
    ('Q-1,SMAP,"[[50, 60]]",[point],100', "no row for channel"),
    ('P-2,SMAP,"[[50, 100]]",[point],100', "0 <= start <= end < 100"),
    ('P-2,SMAP,"[[50 60]]",[point],100', "not a list"),
    ('P-2,SMAP,"[[50, 60]]","[point, point]",100', "one class per sequence"),
])
def test_smap_msl_malformed_labels_raise_value_error(tmp_path, row, match):
    write_smap_msl(tmp_path, [row], {"P-2": (40, 100)})
    with pytest.raises(ValueError, match=match):
        load_smap_msl("P-2", tmp_path)


def test_smap_msl_refuses_pickled_and_bad_arrays(tmp_path):
    write_smap_msl(tmp_path, ['P-2,SMAP,"[[5, 6]]",[point],10'], {"P-2": (8, 10)})
    np.save(tmp_path / "train" / "P-2.npy", np.array([{"a": 1}], dtype=object),
            allow_pickle=True)
    with pytest.raises(ValueError, match="safely"):
        load_smap_msl("P-2", tmp_path)
    np.save(tmp_path / "train" / "P-2.npy", np.ones(8))
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        load_smap_msl("P-2", tmp_path)
    np.save(tmp_path / "train" / "P-2.npy", np.ones((8, 4)))
    with pytest.raises(ValueError, match="4 columns"):
        load_smap_msl("P-2", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"train/A-9\.npy.*Available: P-2"):
        load_smap_msl("A-9", tmp_path)


# ---------------------------------------------------------------------------- UCR, fake
def test_ucr_malformed_files_raise(tmp_path):
    good = tmp_path / "001_UCR_Anomaly_Toy_5_7_8.txt"
    good.write_text("\n".join(f"{v:.3f}" for v in range(10)) + "\n")
    data = load_ucr("1", tmp_path)
    np.testing.assert_array_equal(np.flatnonzero(data.y_test), [1, 2])  # points 7, 8 (1-based)
    bad_name = tmp_path / "1_UCR_Anomaly_broken.txt"
    bad_name.write_text("1.0\n2.0\n")
    with pytest.raises(ValueError, match="does not parse"):
        load_ucr(bad_name)
    outside = tmp_path / "002_UCR_Anomaly_Toy_5_9_12.txt"
    outside.write_text("1.0\n" * 10)
    with pytest.raises(ValueError, match="do not fit a series of 10 points"):
        load_ucr(outside)
    text = tmp_path / "003_UCR_Anomaly_Toy_2_3_3.txt"
    text.write_text("1.0\nabc\n3.0\n4.0\n")
    with pytest.raises(ValueError, match="numbers"):
        load_ucr(text)
    nan = tmp_path / "004_UCR_Anomaly_Toy_2_3_3.txt"
    nan.write_text("1.0\nnan\n3.0\n4.0\n")
    with pytest.raises(ValueError, match="NaN"):
        load_ucr(nan)
    with pytest.raises(ValueError, match="ambiguous"):
        load_ucr("Toy", tmp_path)
    with pytest.raises(FileNotFoundError, match="No such UCR file"):
        load_ucr(tmp_path / "999_UCR_Anomaly_Toy_1_2_3.txt")
    with pytest.raises(FileNotFoundError, match="'77' not found"):
        load_ucr("77", tmp_path)


# ---------------------------------------------------------------------------- NAB, fake
@pytest.fixture
def nab_tree(tmp_path) -> Path:
    base = tmp_path / "NAB"
    for category in ("catA", "catB"):
        (base / "data" / category).mkdir(parents=True)
    (base / "labels").mkdir()
    stamps = [f"2020-01-01 00:{m:02d}:00" for m in range(20)]
    body = "timestamp,value\n" + "".join(f"{t},{i}\n" for i, t in enumerate(stamps))
    for name in ("catA/one.csv", "catA/two.csv", "catB/two.csv"):
        (base / "data" / name).write_text(body)
    windows = {"catA/one.csv": [["2020-01-01 00:05:00.000000", "2020-01-01 00:07:00.000000"]],
               "catA/two.csv": [], "catB/two.csv": []}
    (base / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    return base


def test_nab_fake_tree_and_errors(nab_tree):
    data = load_nab("one", nab_tree, train_fraction=0.25)
    assert data.train.shape == (5, 1) and data.test.shape == (15, 1)
    np.testing.assert_array_equal(np.flatnonzero(data.y_test), [0, 1, 2])  # rows 5..7
    with pytest.raises(ValueError, match="ambiguous"):
        load_nab("two", nab_tree)
    assert load_nab("catB/two", nab_tree).name == "catB/two"
    with pytest.raises(FileNotFoundError, match=r"data/catA/three\.csv"):
        load_nab("catA/three", nab_tree)
    for fraction in (0.0, 1.0, 0.01, True):
        with pytest.raises(ValueError, match="train_fraction"):
            load_nab("one", nab_tree, train_fraction=fraction)
    csv = nab_tree / "data" / "catA" / "one.csv"
    original = csv.read_text()
    csv.write_text(original.replace("timestamp,value", "time,value"))
    with pytest.raises(ValueError, match="timestamp,value"):
        load_nab("one", nab_tree)
    csv.write_text(original.replace(",3\n", ",\n"))
    with pytest.raises(ValueError, match="NaN"):
        load_nab("one", nab_tree)
    csv.write_text(original.replace("2020-01-01 00:03:00", "yesterday"))
    with pytest.raises(ValueError, match="Timestamps"):
        load_nab("one", nab_tree)
    csv.write_text(original)
    (nab_tree / "data" / "catB" / "three.csv").write_text(original)
    with pytest.raises(ValueError, match="no entry for 'catB/three.csv'"):
        load_nab("catB/three", nab_tree)


# ---------------------------------------------------------------------------- lookup
def test_missing_layout_raises_file_not_found(tmp_path, no_data_dirs):
    with pytest.raises(FileNotFoundError, match="combined_windows.json.*DEEPAD_DATA_DIR"):
        load_nab("nyc_taxi")
    with pytest.raises(FileNotFoundError, match="labeled_anomalies.csv"):
        smap_msl_channels(tmp_path)
    with pytest.raises(FileNotFoundError, match="_UCR_Anomaly_"):
        ucr_series()
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_smd("machine-1-1", tmp_path / "absent")


def test_layout_search_depth_is_bounded(smd_tree, tmp_path):
    deep = tmp_path / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    smd_tree.rename(deep / "smd")
    # found 3 levels below root, not 5
    assert smd_machines(deep.parent.parent)[0] == "machine-1-1"
    with pytest.raises(FileNotFoundError, match="up to 3 levels"):
        smd_machines(tmp_path)


# ---------------------------------------------------------------------------- SeriesDataset
def test_series_dataset_validates_and_is_frozen():
    data = SeriesDataset("ok", np.zeros((3, 2), dtype=np.int32), [0, 1, 0],
                         np.ones((2, 2)), np.array([True, False]))
    assert data.train.dtype == np.float64 and data.y_test.dtype == np.int64
    assert data.n_channels == 2 and "train=(3, 2)" in repr(data)
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.name = "other"
    bad = [
        (np.zeros(3), [0, 0, 0], np.zeros((2, 1)), [0, 0], "2-D"),
        (np.zeros((3, 2)), [0, 0, 0], np.zeros((2, 1)), [0, 0], "same channels"),
        (np.zeros((3, 1)), [0, 0], np.zeros((2, 1)), [0, 0], "one label per timestamp"),
        (np.zeros((3, 1)), [0, 2, 0], np.zeros((2, 1)), [0, 0], "0 .normal. or 1"),
        (np.zeros((3, 1)), [0, 0, 0], np.full((2, 1), np.nan), [0, 0], "NaN"),
        (np.zeros((0, 1)), [], np.zeros((2, 1)), [0, 0], "no timestamps"),
        (np.array([["a"]]), [0], np.zeros((1, 1)), [0], "numbers"),
    ]
    for train, y_train, test, y_test, match in bad:
        with pytest.raises(ValueError, match=match):
            SeriesDataset("bad", train, y_train, test, y_test)


# ---------------------------------------------------------------------------- windows
def test_window_starts_examples_and_errors():
    np.testing.assert_array_equal(window_starts(10, 4, 3), [0, 3, 6])
    np.testing.assert_array_equal(window_starts(11, 4, 3), [0, 3, 6, 7])
    np.testing.assert_array_equal(window_starts(5, 5, 2), [0])
    np.testing.assert_array_equal(window_starts(5, 1, 1), np.arange(5))
    for args, match in [((5, 6, 1), "longer than the series"), ((5, 0, 1), "window must"),
                        ((5, 2, 0), "stride must")]:
        with pytest.raises(ValueError, match=match):
            window_starts(*args)
    with pytest.raises(TypeError, match="window must be an integer"):
        window_starts(5, 2.0, 1)
    with pytest.raises(TypeError, match="stride"):
        window_starts(5, 2, True)


any_setups = st.integers(1, 60).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(1, n), st.integers(1, n + 3)))
"""(n_timestamps, window, stride), gaps between windows allowed."""
window_setups = st.integers(1, 60).flatmap(lambda n: st.integers(1, n).flatmap(
    lambda w: st.tuples(st.just(n), st.just(w), st.integers(1, w))))
"""(n_timestamps, window, stride) with stride <= window: every point covered."""


@settings(max_examples=150, deadline=None)
@given(window_setups)
def test_window_starts_cover_every_point(setup):
    n, window, stride = setup
    starts = window_starts(n, window, stride)
    assert starts[0] == 0 and starts[-1] == n - window
    assert (np.diff(starts) > 0).all() and (np.diff(starts)[:-1] == stride).all()
    assert len(starts) == -(-(n - window) // stride) + 1
    covered = np.zeros(n, dtype=bool)
    for s in starts:
        covered[s:s + window] = True
    assert covered.all()


@settings(max_examples=100, deadline=None)
@given(any_setups, st.integers(1, 3))
def test_sliding_windows_match_slices(setup, channels):
    n, window, stride = setup
    series = np.arange(n * channels, dtype=np.float64).reshape(n, channels)
    windows = sliding_windows(series, window, stride)
    starts = window_starts(n, window, stride)
    assert windows.shape == (len(starts), window, channels)
    np.testing.assert_array_equal(windows, np.stack([series[s:s + window] for s in starts]))
    assert not windows.flags.writeable
    if (n - window) % stride == 0:
        assert np.shares_memory(windows, series)


def test_sliding_windows_univariate_and_errors():
    series = np.arange(7.0)
    windows = sliding_windows(series, 3, 3)
    np.testing.assert_array_equal(windows[:, :, 0], [[0, 1, 2], [3, 4, 5], [4, 5, 6]])
    with pytest.raises(ValueError, match="read-only"):
        windows[0, 0, 0] = 1.0
    assert np.shares_memory(sliding_windows(series, 3), series)
    with pytest.raises(ValueError, match="1-D .T,. or 2-D"):
        sliding_windows(np.zeros((4, 2, 2)), 2)
    with pytest.raises(ValueError, match="longer"):
        sliding_windows(series, 8)


@settings(max_examples=100, deadline=None)
@given(any_setups, st.integers(0, 2**32 - 1))
def test_window_labels_match_loop(setup, seed):
    n, window, stride = setup
    y = (np.random.default_rng(seed).random(n) < 0.2).astype(np.int64)
    starts = window_starts(n, window, stride)
    np.testing.assert_array_equal(window_labels(y, window, stride),
                                  [int(y[s:s + window].any()) for s in starts])
    np.testing.assert_array_equal(window_labels(y, window, stride, rule="last"),
                                  [y[s + window - 1] for s in starts])


def test_window_labels_errors():
    with pytest.raises(ValueError, match="rule"):
        window_labels([0, 1], 1, rule="all")
    with pytest.raises(ValueError, match=r"found \[2\]"):
        window_labels([0, 2, 1], 2)
    with pytest.raises(ValueError, match="1-D"):
        window_labels(np.zeros((3, 1)), 2)


def points_oracle(scores, n, window, stride, reduce):
    """Loop-per-point reference of window_scores_to_points."""
    starts = window_starts(n, window, stride)
    out = np.empty(n)
    for t in range(n):
        covering = [scores[i] for i, s in enumerate(starts) if s <= t < s + window]
        if reduce == "mean":
            out[t] = np.mean(covering)
        elif reduce == "max":
            out[t] = np.max(covering)
        else:
            ended = [i for i, s in enumerate(starts) if s + window - 1 <= t]
            out[t] = scores[ended[-1] if ended else 0]
    return out


@settings(max_examples=100, deadline=None)
@given(window_setups, st.sampled_from(["mean", "max", "last"]), st.integers(0, 2**32 - 1))
def test_window_scores_to_points_match_loop(setup, reduce, seed):
    n, window, stride = setup
    scores = np.random.default_rng(seed).normal(size=len(window_starts(n, window, stride)))
    points = window_scores_to_points(scores, n, window, stride, reduce)
    assert points.shape == (n,) and points.dtype == np.float64
    np.testing.assert_allclose(points, points_oracle(scores, n, window, stride, reduce),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(window_setups, st.sampled_from(["mean", "max", "last"]),
       st.floats(-1e6, 1e6, allow_nan=False))
def test_constant_window_scores_map_to_the_constant(setup, reduce, value):
    n, window, stride = setup
    scores = np.full(len(window_starts(n, window, stride)), value)
    np.testing.assert_allclose(window_scores_to_points(scores, n, window, stride, reduce),
                               value, rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(window_setups, st.data())
def test_max_maps_a_spike_to_exactly_its_window(setup, data):
    n, window, stride = setup
    starts = window_starts(n, window, stride)
    spiked = data.draw(st.integers(0, len(starts) - 1))
    scores = np.zeros(len(starts))
    scores[spiked] = 5.0
    points = window_scores_to_points(scores, n, window, stride, reduce="max")
    np.testing.assert_array_equal(np.flatnonzero(points == 5.0),
                                  np.arange(starts[spiked], starts[spiked] + window))
    assert set(np.unique(points)) <= {0.0, 5.0}


def test_window_scores_to_points_by_hand():
    # n=7, window=3, stride=2: starts 0, 2, 4; windows cover 0-2, 2-4, 4-6
    points = window_scores_to_points([3.0, 6.0, 9.0], 7, 3, 2, "mean")
    np.testing.assert_allclose(points, [3, 3, 4.5, 6, 7.5, 9, 9])
    # n=8, window=3, stride=3: starts 0, 3 and the added 5; ends 2, 5, 7
    np.testing.assert_allclose(window_scores_to_points([1.0, 2.0, 4.0], 8, 3, 3, "mean"),
                               [1, 1, 1, 2, 2, 3, 4, 4])
    np.testing.assert_allclose(window_scores_to_points([1.0, 2.0, 4.0], 8, 3, 3, "max"),
                               [1, 1, 1, 2, 2, 4, 4, 4])
    # "last": the latest window ended by t; before the first end, the first window
    np.testing.assert_allclose(window_scores_to_points([1.0, 2.0, 4.0], 8, 3, 3, "last"),
                               [1, 1, 1, 1, 1, 2, 2, 4])


def test_window_scores_to_points_errors():
    with pytest.raises(ValueError, match=r"expected \(3,\)"):
        window_scores_to_points([1.0, 2.0], 7, 3, 2)
    with pytest.raises(ValueError, match="NaN"):
        window_scores_to_points([1.0, np.nan, 2.0], 7, 3, 2)
    with pytest.raises(ValueError, match="reduce"):
        window_scores_to_points([1.0, 2.0, 3.0], 7, 3, 2, reduce="median")
    # stride > window: windows at 0, 3 cover 0, 3 only; points 1, 2 would get no score
    with pytest.raises(ValueError, match="stride <= window"):
        window_scores_to_points([1.0, 2.0], 4, 1, 3)


def test_windows_round_trip_on_a_real_shaped_series():
    # windows -> a per-window score -> per-point scores of the original length
    series = np.sin(np.linspace(0, 20, 1003))[:, None]
    windows = sliding_windows(series, 50, 7)
    scores = np.abs(windows).max(axis=(1, 2))
    points = window_scores_to_points(scores, len(series), 50, 7, "max")
    assert points.shape == (1003,)
    # each point's max over covering windows bounds the point's own |value|
    assert (points >= np.abs(series[:, 0]) - 1e-12).all()


def test_timeseries_modules_do_not_import_torch():
    import ast

    import deepad.data.timeseries as timeseries
    import deepad.data.windows as windows

    for module in (timeseries, windows):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)}
        assert not {name for name in imported if name.split(".")[0] == "torch"}, module
