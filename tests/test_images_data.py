"""IDX files, MNIST loading and the one-class image protocol."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from deepad.data import load_image_folder
from deepad.data.images import (
    FASHION_MNIST_CLASSES,
    ImageDataset,
    find_fashion_mnist,
    find_mnist,
    load_fashion_mnist,
    load_idx,
    load_mnist,
    one_class_split,
)

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


# ------------------------------------------------------------------- Fashion-MNIST
def test_fashion_mnist_and_mnist_folders_are_told_apart(tmp_path, monkeypatch):
    # both sets use the same file names: each loader finds its own folder
    write_tiny_mnist(tmp_path / "images" / "fashion_mnist", split="train", n=30)
    fashion_test, _ = write_tiny_mnist(tmp_path / "images" / "fashion_mnist", n=20)
    mnist_test, _ = write_tiny_mnist(tmp_path / "images" / "mnist", n=10)
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(tmp_path))
    assert find_mnist("test") == tmp_path / "images" / "mnist"
    assert find_fashion_mnist("test") == tmp_path / "images" / "fashion_mnist"
    assert load_mnist()[0].shape == (10, 28, 28)
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST test files.*fashion_mnist"):
        find_fashion_mnist("test", root=tmp_path / "nowhere")
    data = load_fashion_mnist("all")
    assert isinstance(data, ImageDataset) and len(data) == 50
    assert data.class_names == FASHION_MNIST_CLASSES and data.class_names[9] == "Ankle boot"
    assert data.split.tolist() == ["train"] * 30 + ["test"] * 20
    assert data.file_names[0] == "train-00000" and data.file_names[-1] == "test-00019"
    np.testing.assert_array_equal(data.images[30:], fashion_test)
    test = load_fashion_mnist("test")
    assert len(test) == 20 and set(test.split) == {"test"}
    with pytest.raises(ValueError, match="split must be one of"):
        load_fashion_mnist("valid")


def test_one_class_split_ruff_protocol(tmp_path):
    write_tiny_mnist(tmp_path / "fm", split="train", n=40)
    write_tiny_mnist(tmp_path / "fm", n=20)
    data = load_fashion_mnist("all", root=tmp_path / "fm")
    split = one_class_split(data, 3, flatten=False, scale=False)
    assert split.protocol == "ruff"
    # train = the normal class's training images, test = the whole test part
    np.testing.assert_array_equal(split.X_train[:, 0], data.images[:40][data.labels[:40] == 3])
    np.testing.assert_array_equal(split.X_test[:, 0], data.images[40:])
    np.testing.assert_array_equal(split.y_test, (data.labels[40:] != 3).astype(np.int64))
    # a class name works as well; seeds do not change the Ruff split
    again = one_class_split(data, "Dress", seed=5)
    assert again.X_train.shape == (4, 784) and again.X_train.dtype == np.float32
    # within-test on a set with parts splits its test part only
    within = one_class_split(data, 3, protocol="within-test", test_size=0.5)
    assert within.protocol == "within-test" and len(within.X_test) == 10
    test_only = load_fashion_mnist("test", root=tmp_path / "fm")
    assert one_class_split(test_only, 3, test_size=0.5).protocol == "within-test"
    with pytest.raises(ValueError, match="protocol='ruff' needs a training and a test part"):
        one_class_split(test_only, 3, protocol="ruff")
    with pytest.raises(ValueError, match="protocol must be one of"):
        one_class_split(data, 3, protocol="paper")
    with pytest.raises(ValueError, match="'Hat' is not a class.*'Trouser'"):
        one_class_split(data, "Hat")
    with pytest.raises(ValueError, match="normal_class is required"):
        one_class_split(data)


@pytest.mark.needs_shared
def test_fashion_mnist_facts(shared_datasets):
    data = load_fashion_mnist("all", root=shared_datasets / "images" / "fashion_mnist")
    assert data.images.shape == (70_000, 28, 28) and data.images.dtype == np.uint8
    assert data.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert data.labels[60_000:60_010].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    split = one_class_split(data, 0, flatten=False, scale=False)
    assert split.X_train.shape == (6_000, 1, 28, 28) and split.X_test.shape == (10_000, 1, 28, 28)
    assert int(split.y_test.sum()) == 9_000


# ------------------------------------------------------------------- image folders
def save_png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


def test_load_image_folder_mvtec_layout(tmp_path):
    root = tmp_path / "bottle"
    rng = np.random.default_rng(0)
    for i in range(3):
        save_png(root / "train" / "good" / f"{i:03d}.png", rng.integers(0, 256, (6, 8)))
    save_png(root / "test" / "good" / "000.png", np.full((6, 8), 10))
    save_png(root / "test" / "crack" / "000.png", np.full((6, 8), 200))
    save_png(root / "test" / "broken" / "000.png", np.full((6, 8), 100))
    mask = np.zeros((6, 8)); mask[2:4, 3:5] = 255  # noqa: E702
    save_png(root / "ground_truth" / "crack" / "000_mask.png", mask)
    (root / "train" / "good" / "notes.txt").write_text("ignored")
    data = load_image_folder(root)
    assert data.images.shape == (6, 6, 8) and data.images.dtype == np.uint8
    assert data.class_names == ("good", "broken", "crack")
    assert data.file_names.tolist() == ["train/good/000.png", "train/good/001.png",
                                        "train/good/002.png", "test/broken/000.png",
                                        "test/crack/000.png", "test/good/000.png"]
    assert data.labels.tolist() == [0, 0, 0, 1, 2, 0]
    assert data.split.tolist() == ["train"] * 3 + ["test"] * 3
    assert data.masks.shape == (6, 6, 8) and int(data.masks.sum()) == 4
    assert data.masks[4, 2:4, 3:5].all() and data.name == "bottle"
    split = one_class_split(data, "good", flatten=False, scale=False)
    assert split.protocol == "ruff" and split.X_train.shape == (3, 1, 6, 8)
    assert split.y_test.tolist() == [1, 1, 0]
    resized = load_image_folder(root, size=(3, 4))
    assert resized.images.shape == (6, 3, 4) and resized.masks.shape == (6, 3, 4)


def test_load_image_folder_plain_classes_color_and_errors(tmp_path):
    root = tmp_path / "pics"
    save_png(root / "loose.png", np.zeros((5, 5)))
    save_png(root / "cats" / "a.png", np.zeros((5, 5)))
    save_png(root / "dogs" / "b.png", np.zeros((5, 5, 3)) + [255, 0, 0])
    data = load_image_folder(root)
    assert data.split is None and data.masks is None
    assert data.class_names == ("cats", "dogs") and data.labels.tolist() == [-1, 0, 1]
    assert data.images.shape == (3, 3, 5, 5)  # one colour file: all RGB, channels first
    assert data.images[2, :, 0, 0].tolist() == [255, 0, 0]
    assert load_image_folder(root, color=False).images.shape == (3, 5, 5)
    save_png(root / "big.png", np.zeros((7, 9)))
    with pytest.raises(ValueError, match=r"2 different sizes.*7x9 \(big.png\).*size=\(height"):
        load_image_folder(root)
    assert load_image_folder(root, size=(4, 4)).images.shape == (4, 3, 4, 4)
    (root / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read the image .*broken\.png"):
        load_image_folder(root, size=(4, 4))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images")
    with pytest.raises(ValueError, match=r"no image file \(.png.*empty"):
        load_image_folder(empty)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="size must be"):
        load_image_folder(root, size=(0, 4))
