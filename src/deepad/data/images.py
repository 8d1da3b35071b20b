"""Raw image datasets: IDX files, MNIST, and the one-class protocol for image anomaly detection.

IDX is the format of the MNIST files (LeCun, Cortes & Burges, "The MNIST database of
handwritten digits", 1998): a big-endian header (two zero bytes, a type code, the number of
dimensions, then one 32-bit size per dimension) followed by the values in C order.

The one-class protocol (Ruff et al., "Deep One-Class Classification", ICML 2018) makes one
class normal and the others anomalies. numpy / scikit-learn only.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from deepad.data.adbench import data_dirs

__all__ = ["IDX_DTYPES", "MNIST_FILES", "OneClassSplit", "find_mnist", "load_idx",
           "load_mnist", "one_class_split"]

IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type code (third byte of the magic number) → big-endian element type."""

MNIST_FILES = {
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
}
"""MNIST split → (images file, labels file); each may also be gzipped (``.gz``)."""

MNIST_URL = "https://yann.lecun.com/exdb/mnist/"
_GZIP_MAGIC = b"\x1f\x8b"
_SEARCH_DEPTH = 3  # how many folder levels below a data folder MNIST files are looked for
_IMAGE_SIDE = 28


def load_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file, plain or gzipped.

    The header decides everything: its magic number gives the element type and the number
    of dimensions, then come the big-endian 32-bit sizes. Gzip is recognised by its magic
    bytes, whatever the file name.

    Parameters
    ----------
    path : str or Path
        An IDX file such as ``t10k-images-idx3-ubyte`` or ``t10k-images-idx3-ubyte.gz``.

    Returns
    -------
    ndarray
        A writable array of the header's shape, in native byte order: uint8, int8, int16,
        int32, float32 or float64.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        A corrupt gzip stream, a bad magic number (its first two bytes are not zero, or the
        type code is unknown), a header shorter than its number of dimensions needs, or a
        payload whose length differs from the one the header announces (truncated file or
        trailing bytes).

    Examples
    --------
    >>> import tempfile, pathlib, struct
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny-idx2-ubyte"
    >>> _ = path.write_bytes(struct.pack(">4B2I", 0, 0, 0x08, 2, 2, 3) + bytes(range(6)))
    >>> load_idx(path)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=uint8)
    """
    path = Path(path)
    if not path.is_file():
        msg = f"No such IDX file: {path}"
        raise FileNotFoundError(msg)
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            msg = f"{path} is a corrupt gzip file ({error})."
            raise ValueError(msg) from error
    if len(data) < 4:
        msg = f"{path} has {len(data)} bytes; an IDX file starts with a 4-byte magic number."
        raise ValueError(msg)
    zero, type_code, ndim = data[0:2], data[2], data[3]
    if zero != b"\x00\x00" or type_code not in IDX_DTYPES:
        msg = (f"{path} has the magic number 0x{data[:4].hex()}; an IDX file starts with two "
               "zero bytes and a type code among "
               f"{', '.join(f'0x{code:02x}' for code in IDX_DTYPES)} (e.g. 0x00000803 for "
               "MNIST images, 0x00000801 for labels).")
        raise ValueError(msg)
    header = 4 + 4 * ndim
    if len(data) < header:
        msg = (f"{path} is truncated: its header announces {ndim} dimensions, which need "
               f"{header} header bytes; the file has {len(data)}.")
        raise ValueError(msg)
    shape = tuple(int(s) for s in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        problem = "is truncated" if found < expected else "has trailing bytes"
        msg = (f"{path} {problem}: its header announces shape {shape} of {dtype.name} "
               f"({expected} bytes of values); the file holds {found}.")
        raise ValueError(msg)
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a copy: writable, native byte order


def find_mnist(split: str = "test", root: str | Path | None = None) -> Path:
    """The folder holding the MNIST files of ``split``.

    Parameters
    ----------
    split : {"test", "train"}
        Which files: ``t10k-...`` or ``train-...``.
    root : str or Path, optional
        Where to look. Default: each folder of :func:`deepad.data.adbench.data_dirs`
        (``$DEEPAD_DATA_DIR``, then ``~/.cache/deepad``). A folder matches when it holds both
        files (plain or ``.gz``); the search goes up to three levels down (e.g.
        ``images/mnist/`` or torchvision's ``MNIST/raw/``), shallowest first.

    Returns
    -------
    Path
        The first matching folder.

    Raises
    ------
    FileNotFoundError
        No folder holds both files; the message lists where it looked and what to put
        there.
    """
    images, labels = _mnist_names(split)
    roots = [Path(root)] if root is not None else data_dirs()
    for top in roots:
        if not top.is_dir():
            continue
        for depth in range(_SEARCH_DEPTH + 1):
            pattern = "/".join(["*"] * depth + [images + "*"])
            for candidate in sorted(top.glob(pattern)):
                folder = candidate.parent
                if _pick(folder, images) and _pick(folder, labels):
                    return folder
    searched = ", ".join(str(r) for r in roots)
    msg = (f"MNIST {split} files ({images}.gz and {labels}.gz, gzipped or not) not found in "
           f"{searched} or up to {_SEARCH_DEPTH} folder levels below. Download them from "
           f"{MNIST_URL} (or a mirror) and put both in one of these folders (e.g. in "
           "images/mnist/), set DEEPAD_DATA_DIR to their folder, or pass root=.")
    raise FileNotFoundError(msg)


def load_mnist(root: str | Path | None = None,
               split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images and digit labels.

    Parameters
    ----------
    root : str or Path, optional
        The folder holding the files, or a folder above it; default: the data folders
        (see :func:`find_mnist`).
    split : {"test", "train"}
        ``"test"``: the 10,000 test images (``t10k-images-idx3-ubyte(.gz)``,
        ``t10k-labels-idx1-ubyte(.gz)``); ``"train"``: the 60,000 training images
        (``train-...``).

    Returns
    -------
    images : ndarray of uint8, shape (n, 28, 28)
        0 = background, 255 = ink.
    labels : ndarray of int64, shape (n,)
        Digits 0-9.

    Raises
    ------
    FileNotFoundError
        The files are not found (the message says where to put them).
    ValueError
        A file is not valid IDX, or the arrays are not MNIST-shaped (n, 28, 28) uint8
        images with n digit labels 0-9.

    See Also
    --------
    one_class_split : the one-class anomaly-detection protocol on these images.
    """
    folder = find_mnist(split, root)
    names = _mnist_names(split)
    images_path, labels_path = (_pick(folder, name) for name in names)
    images, labels = load_idx(images_path), load_idx(labels_path)
    if images.dtype != np.uint8 or images.shape[1:] != (_IMAGE_SIDE, _IMAGE_SIDE):
        msg = (f"{images_path} holds {images.dtype} values of shape {images.shape}; MNIST "
               f"images are uint8 of shape (n, {_IMAGE_SIDE}, {_IMAGE_SIDE}).")
        raise ValueError(msg)
    if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
        msg = (f"{labels_path} holds {labels.dtype} values of shape {labels.shape}; expected "
               f"uint8 labels of shape ({len(images)},), one per image of {images_path}.")
        raise ValueError(msg)
    if labels.size and labels.max() > 9:
        msg = f"{labels_path} holds labels up to {labels.max()}; MNIST digits are 0-9."
        raise ValueError(msg)
    return images, labels.astype(np.int64)


@dataclass
class OneClassSplit:
    """Train / test arrays of the one-class protocol.

    Attributes
    ----------
    X_train : ndarray
        Normal-class images of the training part only.
    X_test : ndarray
        Every image of the test part (all classes).
    y_test : ndarray of int64
        1 = anomaly (not the normal class), 0 = normal, for ``X_test``.
    classes_test : ndarray
        The original class label of each image of ``X_test``.
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes_test: np.ndarray


def one_class_split(images: np.ndarray, labels: np.ndarray, normal_class: int, seed: int = 0,
                    test_size: float = 0.3, flatten: bool = True,
                    scale: bool = True) -> OneClassSplit:
    """One class is normal, the others are anomalies: a fixed-seed one-class split.

    The images are split once, stratified by class, with ``sklearn``'s
    ``train_test_split(..., test_size, stratify=labels, random_state=seed)``. Training data
    is the normal-class images of the training part; the test part keeps every class, and
    its anomaly labels say which images are not of the normal class. This serves when only
    one labelled set is at hand (e.g. the MNIST test set of the shared datasets); Ruff et
    al. (2018) train on the normal class of MNIST's training set and test on its test set.

    Parameters
    ----------
    images : ndarray, shape (n, height, width)
        Grayscale images with pixel values 0-255 (e.g. from :func:`load_mnist`).
    labels : ndarray, shape (n,)
        The class of each image.
    normal_class : int
        The class taken as normal.
    seed : int, default 0
        Seed of the split.
    test_size : float, default 0.3
        Fraction of the images in the test part, in (0, 1).
    flatten : bool, default True
        True: images as rows of shape (n, height * width), for tabular detectors. False:
        shape (n, 1, height, width), channels first, for convolutional networks.
    scale : bool, default True
        True: float32 pixel values divided by 255, in [0, 1]. False: the values as given.

    Returns
    -------
    OneClassSplit
        ``X_train``, ``X_test``, ``y_test`` (1 = not ``normal_class``) and
        ``classes_test``.

    Raises
    ------
    ValueError
        Images not 3-D, labels not one per image, ``normal_class`` absent from ``labels``,
        ``test_size`` outside (0, 1), or a class too small to stratify.

    References
    ----------
    Ruff, Vandermeulen, Görnitz, Deecke, Siddiqui, Binder, Müller & Kloft, "Deep One-Class
    Classification", ICML 2018, section 4.1 (the one-class MNIST and CIFAR-10 setups).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 256, size=(100, 28, 28), dtype=np.uint8)
    >>> labels = np.repeat(np.arange(10), 10)
    >>> split = one_class_split(images, labels, normal_class=3)
    >>> split.X_train.shape, split.X_test.shape, int(split.y_test.sum())
    ((7, 784), (30, 784), 27)
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3:
        msg = (f"images has shape {images.shape}; expected 3-D (n_images, height, width) "
               "grayscale images.")
        raise ValueError(msg)
    if labels.shape != images.shape[:1]:
        msg = (f"labels has shape {labels.shape}; expected ({len(images)},), one class per "
               "image.")
        raise ValueError(msg)
    present = np.unique(labels)
    if normal_class not in present:
        msg = f"normal_class={normal_class!r} is not among the labels {present.tolist()}."
        raise ValueError(msg)
    if not 0.0 < test_size < 1.0:
        msg = f"test_size must be in (0, 1); got {test_size!r}."
        raise ValueError(msg)
    X_train, X_test, classes_train, classes_test = train_test_split(
        images, labels, test_size=test_size, shuffle=True, stratify=labels, random_state=seed)
    X_train = X_train[classes_train == normal_class]
    y_test = (classes_test != normal_class).astype(np.int64)
    return OneClassSplit(_prepare(X_train, flatten, scale), _prepare(X_test, flatten, scale),
                         y_test, classes_test)


def _prepare(images: np.ndarray, flatten: bool, scale: bool) -> np.ndarray:
    if scale:
        images = images.astype(np.float32) / np.float32(255)
    if flatten:
        return images.reshape(len(images), -1)
    return images[:, np.newaxis]


def _mnist_names(split: str) -> tuple[str, str]:
    if split not in MNIST_FILES:
        msg = f"split must be one of {tuple(MNIST_FILES)}; got {split!r}."
        raise ValueError(msg)
    return MNIST_FILES[split]


def _pick(folder: Path, name: str) -> Path | None:
    """``folder/name`` or ``folder/name.gz``, whichever exists (the plain file first)."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None
