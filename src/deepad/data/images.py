"""Raw image datasets: IDX files, MNIST, and the one-class protocol for image anomaly detection.

IDX is the format of the MNIST files (LeCun, Cortes & Burges, "The MNIST database of
handwritten digits", 1998): a big-endian header (two zero bytes, a type code, the number of
dimensions, then one 32-bit size per dimension) followed by the values in C order.

Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017, arXiv:1708.07747) uses the same file names and
format; :func:`load_fashion_mnist` returns it as an :class:`ImageDataset` (images, labels,
class names, file names, train / test marks), the type :func:`deepad.data.load_image_folder`
also returns.

The one-class protocol (Ruff et al., "Deep One-Class Classification", ICML 2018) makes one
class normal and the others anomalies; :func:`one_class_split` implements it on a dataset
with a training and a test part (``"ruff"``) and, when only one labelled set is at hand (the
MNIST test set here), as a stratified split within it (``"within-test"``).
numpy / scikit-learn only.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from deepad.data.adbench import data_dirs

__all__ = ["FASHION_MNIST_CLASSES", "IDX_DTYPES", "MNIST_FILES", "ONE_CLASS_PROTOCOLS",
           "ImageDataset", "OneClassSplit", "find_fashion_mnist", "find_mnist", "load_idx",
           "load_fashion_mnist", "load_mnist", "one_class_split"]

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

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
"""Fashion-MNIST class names, by label 0-9 (the dataset's README)."""

ONE_CLASS_PROTOCOLS = {
    "ruff": ("Ruff et al. (ICML 2018): train on the normal class's images of the training "
             "split, test on the whole test split; anomaly = any other class"),
    "within-test": ("within the test set: one stratified, seeded 70 / 30 split of the test "
                    "images; train on the normal class's images of the 70 %, test on the "
                    "30 % (all classes); anomaly = any other class. Not the papers' protocol "
                    "(their training set is not used), so numbers differ from theirs"),
}
"""One-class protocols of :func:`one_class_split`, with the sentence reports print."""

MNIST_URL = "https://yann.lecun.com/exdb/mnist/"
FASHION_MNIST_URL = "https://github.com/zalandoresearch/fashion-mnist"
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


def _find_idx(split: str, root: str | Path | None, fashion: bool) -> Path | None:
    """The first folder holding both IDX files of ``split``: for Fashion-MNIST one whose
    path below the searched folder names "fashion", for MNIST one whose path does not (the
    two datasets share their file names). A ``root`` given that holds the files itself is
    taken whatever its name; so is a data folder whose own name says which dataset it is."""
    images, labels = _mnist_names(split)
    roots = [Path(root)] if root is not None else data_dirs()
    for top in roots:
        if not top.is_dir():
            continue
        for depth in range(_SEARCH_DEPTH + 1):
            pattern = "/".join(["*"] * depth + [images + "*"])
            for candidate in sorted(top.glob(pattern)):
                folder = candidate.parent
                names = folder.relative_to(top).parts
                if root is None and not names:
                    names = (folder.name,)  # a data folder that is itself the IDX folder
                if names and ("fashion" in "/".join(names).lower()) != fashion:
                    continue
                if _pick(folder, images) and _pick(folder, labels):
                    return folder
    return None


def _not_found(dataset: str, split: str, root: str | Path | None, url: str,
               example: str) -> FileNotFoundError:
    images, labels = _mnist_names(split)
    roots = [Path(root)] if root is not None else data_dirs()
    searched = ", ".join(str(r) for r in roots)
    msg = (f"{dataset} {split} files ({images}.gz and {labels}.gz, gzipped or not) not found "
           f"in {searched} or up to {_SEARCH_DEPTH} folder levels below. Download them from "
           f"{url} (or a mirror) and put both in one of these folders (e.g. in {example}), "
           "set DEEPAD_DATA_DIR to their folder, or pass root=.")
    return FileNotFoundError(msg)


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
        ``images/mnist/`` or torchvision's ``MNIST/raw/``), shallowest first. Below the data
        folders, a folder whose path names "fashion" is skipped: Fashion-MNIST has the same
        file names (:func:`find_fashion_mnist`). A ``root`` given is taken as it is.

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
    found = _find_idx(split, root, fashion=False)
    if found is None:
        raise _not_found("MNIST", split, root, MNIST_URL, "images/mnist/")
    return found


def find_fashion_mnist(split: str = "train", root: str | Path | None = None) -> Path:
    """The folder holding the Fashion-MNIST files of ``split``.

    The files have MNIST's names (``train-images-idx3-ubyte.gz``, ...); below the data
    folders, only a folder whose path names "fashion" (``images/fashion_mnist/``,
    torchvision's ``FashionMNIST/raw/``) matches. A ``root`` given is taken as it is.
    Otherwise as :func:`find_mnist`.
    """
    found = _find_idx(split, root, fashion=True)
    if found is None:
        raise _not_found("Fashion-MNIST", split, root, FASHION_MNIST_URL,
                         "images/fashion_mnist/")
    return found


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
    return _read_pair(find_mnist(split, root), split, "MNIST")


def _read_pair(folder: Path, split: str, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of ``split`` in ``folder``, checked to be (n, 28, 28) uint8 images
    with n labels 0-9."""
    names = _mnist_names(split)
    images_path, labels_path = (_pick(folder, name) for name in names)
    images, labels = load_idx(images_path), load_idx(labels_path)
    if images.dtype != np.uint8 or images.shape[1:] != (_IMAGE_SIDE, _IMAGE_SIDE):
        msg = (f"{images_path} holds {images.dtype} values of shape {images.shape}; {dataset} "
               f"images are uint8 of shape (n, {_IMAGE_SIDE}, {_IMAGE_SIDE}).")
        raise ValueError(msg)
    if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
        msg = (f"{labels_path} holds {labels.dtype} values of shape {labels.shape}; expected "
               f"uint8 labels of shape ({len(images)},), one per image of {images_path}.")
        raise ValueError(msg)
    if labels.size and labels.max() > 9:
        msg = f"{labels_path} holds labels up to {labels.max()}; {dataset} labels are 0-9."
        raise ValueError(msg)
    return images, labels.astype(np.int64)


@dataclass
class ImageDataset:
    """Images with their classes, names and parts: what the image loaders return.

    Attributes
    ----------
    images : ndarray of uint8, shape (n, height, width) or (n, channels, height, width)
        Grayscale images as (n, H, W); colour ones channels first, as (n, 3, H, W).
    labels : ndarray of int64, shape (n,)
        Index of each image's class in ``class_names``; -1 for an image without a class
        (a file directly in an image folder that also has class sub-folders, or every image
        of a flat folder).
    class_names : tuple of str
        Class names by label (Fashion-MNIST's article names, MNIST's digits, an image
        folder's sub-folder names such as MVTec-AD's ``good`` and its defect types).
    file_names : ndarray of str, shape (n,)
        Where each image came from: the path relative to the loaded folder
        (``test/crack/000.png``), or ``<part>-<index>`` for an IDX set (``test-00042``).
    split : ndarray of str, shape (n,), or None
        ``"train"`` or ``"test"`` per image, where the source says (Fashion-MNIST, the MVTec
        layout); None for a set without parts.
    masks : ndarray of bool, shape (n, height, width), or None
        Ground-truth anomaly masks (MVTec-AD's ``ground_truth/``); all False for an image
        without one; None when the source has none.
    name : str
        What the set is (``"fashion_mnist"``, a folder name).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    file_names: np.ndarray
    split: np.ndarray | None = None
    masks: np.ndarray | None = None
    name: str = ""

    def __len__(self) -> int:
        return len(self.images)

    def class_index(self, normal_class: int | str) -> int:
        """The label of ``normal_class`` given as a label or a class name (``ValueError``
        naming the classes when it is neither)."""
        if isinstance(normal_class, str):
            if normal_class in self.class_names:
                return self.class_names.index(normal_class)
            msg = (f"normal_class={normal_class!r} is not a class of {self.name or 'the set'}; "
                   f"classes: {', '.join(map(repr, self.class_names))}.")
            raise ValueError(msg)
        return int(normal_class)

    @classmethod
    def from_arrays(cls, images: np.ndarray, labels: np.ndarray,
                    class_names: tuple[str, ...] | None = None, *, part: str | None = None,
                    name: str = "") -> ImageDataset:
        """A set from arrays (such as :func:`load_mnist`'s): class names default to the
        labels as text, file names to ``<part>-<index>``; ``part`` (``"train"`` or
        ``"test"``) marks every image when given."""
        images, labels = np.asarray(images), np.asarray(labels, dtype=np.int64)
        if class_names is None:
            top = int(labels.max()) + 1 if labels.size else 0
            class_names = tuple(str(c) for c in range(top))
        prefix = part or "image"
        width = max(5, len(str(len(images))))
        file_names = np.array([f"{prefix}-{i:0{width}d}" for i in range(len(images))])
        split = None if part is None else np.full(len(images), part)
        return cls(images, labels, tuple(class_names), file_names, split, None, name)


def load_fashion_mnist(split: str = "train", root: str | Path | None = None) -> ImageDataset:
    """Fashion-MNIST: 28x28 grayscale images of clothing articles in 10 classes.

    Parameters
    ----------
    split : {"train", "test", "all"}
        ``"train"``: the 60,000 training images; ``"test"``: the 10,000 test images; ``"all"``:
        both, training images first, each marked in ``split`` (what the ``"ruff"``
        protocol of :func:`one_class_split` needs).
    root : str or Path, optional
        The folder holding the IDX files (``train-images-idx3-ubyte.gz``, ...), or a folder
        above it; default: the data folders (see :func:`find_fashion_mnist`).

    Returns
    -------
    ImageDataset
        ``images`` uint8 (n, 28, 28) (0 = background), ``labels`` 0-9, ``class_names``
        :data:`FASHION_MNIST_CLASSES`, ``file_names`` ``train-00000``, ..., ``split``.

    Raises
    ------
    FileNotFoundError
        The files are not found (the message says where to put them).
    ValueError
        An unknown ``split``, or files that are not Fashion-MNIST-shaped IDX.

    References
    ----------
    Xiao, Rasul & Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine
    Learning Algorithms", arXiv:1708.07747, 2017.
    """
    if split not in ("train", "test", "all"):
        msg = f"split must be one of ('train', 'test', 'all'); got {split!r}."
        raise ValueError(msg)
    parts = ("train", "test") if split == "all" else (split,)
    sets = [ImageDataset.from_arrays(*_read_pair(find_fashion_mnist(part, root), part,
                                                 "Fashion-MNIST"),
                                     FASHION_MNIST_CLASSES, part=part, name="fashion_mnist")
            for part in parts]
    if len(sets) == 1:
        return sets[0]
    return ImageDataset(np.concatenate([d.images for d in sets]),
                        np.concatenate([d.labels for d in sets]), FASHION_MNIST_CLASSES,
                        np.concatenate([d.file_names for d in sets]),
                        np.concatenate([d.split for d in sets]), None, "fashion_mnist")


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
    protocol : str
        ``"ruff"`` or ``"within-test"`` (:data:`ONE_CLASS_PROTOCOLS` says what each is);
        reports print it beside the numbers.
    """

    X_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes_test: np.ndarray
    protocol: str = "within-test"


def one_class_split(images: np.ndarray | ImageDataset, labels: np.ndarray | int | str | None = None,
                    normal_class: int | str | None = None, seed: int = 0,
                    test_size: float = 0.3, flatten: bool = True, scale: bool = True, *,
                    protocol: str | None = None) -> OneClassSplit:
    """One class is normal, the others are anomalies: the one-class split of a labelled set.

    Two protocols (``protocol``):

    - ``"ruff"`` (Ruff et al., 2018): train on the normal class's images of the set's
      training part, test on every image of its test part. Needs an :class:`ImageDataset`
      that marks both parts (``load_fashion_mnist("all")``, an MVTec-AD folder from
      :func:`deepad.data.load_image_folder`); ``seed`` and ``test_size`` are not used.
    - ``"within-test"``: when only one labelled set is at hand (the MNIST test set of the
      shared datasets), split it once, stratified by class, with ``sklearn``'s
      ``train_test_split(..., test_size, stratify=labels, random_state=seed)``; train on the
      normal-class images of the training part, test on the whole test part. On a dataset
      with parts, only its test part is split.

    Two call forms: ``one_class_split(images, labels, normal_class, ...)`` with arrays (the
    ``"within-test"`` protocol; the original form), and ``one_class_split(dataset,
    normal_class, ...)`` with an :class:`ImageDataset` (default protocol: ``"ruff"`` when the
    set marks a training and a test part, else ``"within-test"``).

    Parameters
    ----------
    images : ndarray or ImageDataset
        Images of shape (n, height, width) or (n, channels, height, width), pixel values
        0-255 (e.g. from :func:`load_mnist`), or a dataset.
    labels : ndarray of shape (n,), or the normal class
        The class of each image; with a dataset, this position holds ``normal_class``.
    normal_class : int or str
        The class taken as normal (a label; with a dataset also a class name, e.g.
        ``"good"``).
    seed : int, default 0
        Seed of the ``"within-test"`` split.
    test_size : float, default 0.3
        Fraction of the images in the ``"within-test"`` test part, in (0, 1).
    flatten : bool, default True
        True: images as rows of shape (n, pixels), for tabular detectors. False: channels
        first, shape (n, 1, height, width) for grayscale, for convolutional networks.
    scale : bool, default True
        True: float32 pixel values divided by 255, in [0, 1]. False: the values as given.
    protocol : {"ruff", "within-test"}, optional
        See above.

    Returns
    -------
    OneClassSplit
        ``X_train``, ``X_test``, ``y_test`` (1 = not ``normal_class``), ``classes_test``
        and ``protocol``.

    Raises
    ------
    ValueError
        Images not 3-D or 4-D, labels not one per image, ``normal_class`` absent from
        the (training) labels, ``test_size`` outside (0, 1), a class too small to stratify,
        an unknown protocol, or ``"ruff"`` on a set without a training and a test part.

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
    >>> split.X_train.shape, split.X_test.shape, int(split.y_test.sum()), split.protocol
    ((7, 784), (30, 784), 27, 'within-test')
    >>> parts = np.repeat(["train", "test"], 50)
    >>> data = ImageDataset(images, np.tile(np.arange(10), 10), tuple("0123456789"),
    ...                     np.arange(100).astype(str), parts)
    >>> split = one_class_split(data, 3, flatten=False, scale=False)
    >>> split.X_train.shape, split.X_test.shape, split.protocol
    ((5, 1, 28, 28), (50, 1, 28, 28), 'ruff')
    """
    parts = None
    if isinstance(images, ImageDataset):
        dataset = images
        if normal_class is None:
            normal_class = labels
        elif labels is not None:
            msg = ("with an ImageDataset, give the normal class once: "
                   "one_class_split(dataset, normal_class, ...).")
            raise ValueError(msg)
        if normal_class is None:
            msg = "normal_class is required: one_class_split(dataset, normal_class, ...)."
            raise ValueError(msg)
        normal_class = dataset.class_index(normal_class)
        images, labels, parts = dataset.images, dataset.labels, dataset.split
    elif normal_class is None:
        msg = "normal_class is required: one_class_split(images, labels, normal_class)."
        raise ValueError(msg)
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim not in (3, 4):
        msg = (f"images has shape {images.shape}; expected 3-D (n_images, height, width) "
               "grayscale images or 4-D (n_images, channels, height, width).")
        raise ValueError(msg)
    if labels.shape != images.shape[:1]:
        msg = (f"labels has shape {labels.shape}; expected ({len(images)},), one class per "
               "image.")
        raise ValueError(msg)
    has_parts = parts is not None and {"train", "test"} <= set(np.unique(parts).tolist())
    if protocol is None:
        protocol = "ruff" if has_parts else "within-test"
    if protocol not in ONE_CLASS_PROTOCOLS:
        msg = f"protocol must be one of {tuple(ONE_CLASS_PROTOCOLS)}; got {protocol!r}."
        raise ValueError(msg)
    if protocol == "ruff":
        if not has_parts:
            msg = ("protocol='ruff' needs a training and a test part: an ImageDataset whose "
                   "split marks both (load_fashion_mnist('all'), an MVTec-AD folder); use "
                   "protocol='within-test' for a single labelled set such as the MNIST test "
                   "set.")
            raise ValueError(msg)
        train = (parts == "train") & (labels == normal_class)
        if not train.any():
            present = np.unique(labels[parts == "train"]).tolist()
            msg = (f"normal_class={normal_class!r} has no image in the training part; its "
                   f"labels are {present}.")
            raise ValueError(msg)
        test = parts == "test"
        classes_test = labels[test]
        y_test = (classes_test != normal_class).astype(np.int64)
        return OneClassSplit(_prepare(images[train], flatten, scale),
                             _prepare(images[test], flatten, scale), y_test, classes_test,
                             "ruff")
    if parts is not None and has_parts:
        images, labels = images[parts == "test"], labels[parts == "test"]
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
                         y_test, classes_test, "within-test")


def _prepare(images: np.ndarray, flatten: bool, scale: bool) -> np.ndarray:
    if scale:
        images = images.astype(np.float32) / np.float32(255)
    if flatten:
        return images.reshape(len(images), -1)
    return images[:, np.newaxis] if images.ndim == 3 else images


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
