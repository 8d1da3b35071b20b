"""IDX files, MNIST loading and the one-class image protocol."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from deepad.data.images import find_mnist, load_idx, load_mnist, one_class_split

MNIST_FIRST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    """An IDX file written by hand: magic, big-endian sizes, big-endian values."""
    header = struct.pack(">4B", 0, 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture(scope="session")
def mnist_test(shared_datasets):
    return load_mnist(shared_datasets / "images" / "mnist", split="test")


# ------------------------------------------------------------------------------ IDX
@pytest.mark.parametrize(("dtype", "code"), [
    (np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B), (np.int32, 0x0C),
    (np.float32, 0x0D), (np.float64, 0x0E),
])
def test_load_idx_types(tmp_path, dtype, code):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    path = tmp_path / "tiny-idx3"
    path.write_bytes(idx_bytes(array, code))
    read = load_idx(path)
    assert read.dtype == np.dtype(dtype) and read.dtype.isnative
    np.testing.assert_array_equal(read, array)
    read[0, 0, 0] = 1  # writable


def test_load_idx_gzip_and_one_dimension(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(labels, 0x08)))
    np.testing.assert_array_equal(load_idx(path), labels)


def test_load_idx_truncated_and_trailing(tmp_path):
    data = idx_bytes(np.zeros((4, 28, 28), np.uint8), 0x08)
    path = tmp_path / "cut-idx3-ubyte"
    path.write_bytes(data[:-10])
    with pytest.raises(ValueError, match=r"truncated.*\(4, 28, 28\).*3136 bytes.*3126"):
        load_idx(path)
    path.write_bytes(data[:10])  # header cut inside the sizes
    with pytest.raises(ValueError, match="truncated.*16 header bytes"):
        load_idx(path)
    path.write_bytes(data + b"\x00")
    with pytest.raises(ValueError, match="trailing bytes"):
        load_idx(path)


@pytest.mark.parametrize("magic", [b"\x00\x00\x07\x03", b"\x01\x00\x08\x03", b"PK\x03\x04"])
def test_load_idx_bad_magic(tmp_path, magic):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(magic + bytes(12))
    with pytest.raises(ValueError, match=f"magic number 0x{magic.hex()}"):
        load_idx(path)


def test_load_idx_bad_gzip_and_missing(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(50, np.uint8), 0x08))[:20])
    with pytest.raises(ValueError, match="corrupt gzip"):
        load_idx(path)
    with pytest.raises(FileNotFoundError, match="nothere"):
        load_idx(tmp_path / "nothere")


# ---------------------------------------------------------------------------- MNIST
def write_tiny_mnist(folder, split="test", n=20, gz=True):
    """n random 28x28 images with labels 0, 1, ..., 9, 0, 1, ... in ``folder``."""
    prefix = "t10k" if split == "test" else "train"
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for name, array in ((f"{prefix}-images-idx3-ubyte", images),
                        (f"{prefix}-labels-idx1-ubyte", labels)):
        data = idx_bytes(array, 0x08)
        (folder / f"{name}{suffix}").write_bytes(gzip.compress(data) if gz else data)
    return images, labels


def test_load_mnist_tiny(tmp_path):
    images, labels = write_tiny_mnist(tmp_path / "train_here", split="train", gz=False)
    read_images, read_labels = load_mnist(tmp_path / "train_here", split="train")
    np.testing.assert_array_equal(read_images, images)
    assert read_labels.dtype == np.int64 and read_labels.tolist() == labels.tolist()


def test_find_mnist_searches_data_dirs(tmp_path, monkeypatch):
    write_tiny_mnist(tmp_path / "images" / "mnist")
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(tmp_path))
    assert find_mnist("test") == tmp_path / "images" / "mnist"
    images, labels = load_mnist()
    assert images.shape == (20, 28, 28) and labels[:3].tolist() == [0, 1, 2]


def test_load_mnist_missing_files(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError,
                       match=r"t10k-images-idx3-ubyte.*empty.*put both in one of these folders"):
        load_mnist()
    write_tiny_mnist(tmp_path / "only_test")
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte.*only_test"):
        load_mnist(tmp_path / "only_test", split="train")
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist(tmp_path / "only_test", split="validation")


def test_load_mnist_rejects_non_mnist_shapes(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((2, 8, 8), np.uint8), 8))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(2, np.uint8), 8))
    with pytest.raises(ValueError, match=r"shape \(2, 8, 8\).*\(n, 28, 28\)"):
        load_mnist(folder)


@pytest.mark.needs_shared
def test_mnist_test_set_facts(mnist_test):
    images, labels = mnist_test
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and labels.dtype == np.int64
    assert labels[:10].tolist() == MNIST_FIRST_LABELS
    assert np.bincount(labels, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert images.min() == 0 and images.max() == 255


# ------------------------------------------------------------------ one-class split
@pytest.mark.needs_shared
def test_one_class_split_on_mnist(mnist_test):
    images, labels = mnist_test
    split = one_class_split(images, labels, normal_class=3, seed=0)
    n_test = int(np.ceil(0.3 * len(labels)))
    assert split.X_test.shape == (n_test, 784) and split.X_test.dtype == np.float32
    assert split.X_train.shape[1] == 784
    assert 0.0 <= split.X_train.min() and split.X_train.max() <= 1.0
    # stratified: each digit keeps its share on both sides
    counts = np.bincount(split.classes_test, minlength=10)
    assert np.abs(counts - 0.3 * np.array(MNIST_TEST_COUNTS)).max() <= 1
    assert len(split.X_train) == MNIST_TEST_COUNTS[3] - counts[3]
    assert split.y_test.dtype == np.int64
    np.testing.assert_array_equal(split.y_test, (split.classes_test != 3).astype(np.int64))
    # the same seed gives the same split, another seed another one
    again = one_class_split(images, labels, normal_class=3, seed=0)
    np.testing.assert_array_equal(again.X_test, split.X_test)
    other = one_class_split(images, labels, normal_class=3, seed=1)
    assert not np.array_equal(other.classes_test, split.classes_test)


def test_one_class_split_shapes_and_scaling():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8)
    labels = np.repeat(np.arange(3), 20)
    split = one_class_split(images, labels, normal_class=1, flatten=False, scale=False,
                            test_size=0.25)
    assert split.X_train.shape == (15, 1, 28, 28) and split.X_train.dtype == np.uint8
    assert split.X_test.shape == (15, 1, 28, 28)
    assert split.y_test.sum() == 10
    # the training images are exactly the normal-class images not in the test part
    train_rows = {row.tobytes() for row in split.X_train[:, 0]}
    normal_rows = {row.tobytes() for row in images[labels == 1]}
    test_rows = {row.tobytes() for row in split.X_test[:, 0]}
    assert train_rows == normal_rows - test_rows
    scaled = one_class_split(images, labels, normal_class=1, test_size=0.25)
    np.testing.assert_allclose(scaled.X_train.reshape(15, 1, 28, 28) * 255, split.X_train,
                               rtol=1e-6)


@pytest.mark.parametrize(("kwargs", "pattern"), [
    ({"normal_class": 7}, r"normal_class=7 is not among the labels \[0, 1, 2\]"),
    ({"normal_class": 0, "test_size": 1.5}, "test_size must be in"),
])
def test_one_class_split_errors(kwargs, pattern):
    images = np.zeros((30, 4, 4), np.uint8)
    labels = np.repeat(np.arange(3), 10)
    with pytest.raises(ValueError, match=pattern):
        one_class_split(images, labels, **kwargs)
    with pytest.raises(ValueError, match="expected 3-D"):
        one_class_split(images.reshape(30, 16), labels, normal_class=0)
    with pytest.raises(ValueError, match="one class per image"):
        one_class_split(images, labels[:-1], normal_class=0)
