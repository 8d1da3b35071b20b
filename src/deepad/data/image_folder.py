"""Folders of image files (PNG, JPEG, BMP, TIFF) as an :class:`~deepad.data.images.ImageDataset`.

Two layouts are recognised:

- **MVTec-AD** (Bergmann et al., CVPR 2019): ``train/good/*.png`` (defect-free training
  images), ``test/<type>/*.png`` (``good`` and one folder per defect type) and, optionally,
  ``ground_truth/<type>/<name>_mask.png`` (the defect's pixel mask). Every image is marked
  ``train`` or ``test``, its class is its sub-folder (``good`` first, so ``good`` has label 0),
  and masks are read when present.
- **A plain folder**: image files directly in it (no classes, label -1) and / or one
  sub-folder per class (labels in sorted sub-folder order).

Pillow decodes the files (imported here, not when :mod:`deepad.data` is imported).
numpy / Pillow only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepad.data.images import ImageDataset

__all__ = ["IMAGE_SUFFIXES", "load_image_folder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
"""File name endings read as images (case-insensitive); other files are ignored."""

_MVTEC_PARTS = ("train", "test")
_MASK_SUFFIX = "_mask"
_NORMAL = "good"


def load_image_folder(path: str | Path, size: tuple[int, int] | None = None,
                      color: bool | None = None) -> ImageDataset:
    """The images of a folder, with their classes and file names.

    Parameters
    ----------
    path : str or Path
        A folder in the MVTec-AD layout (``train/``, ``test/``, optional ``ground_truth/``)
        or a plain folder of images, optionally with one sub-folder per class.
    size : (height, width), optional
        Resize every image (bilinear; masks nearest-neighbour) to this size. Without it,
        every image must already have the same size.
    color : bool, optional
        True: RGB images, shape (n, 3, H, W). False: grayscale (n, H, W) (colour images are
        converted with Pillow's ``L`` mode). Default: grayscale when every file is
        grayscale, else RGB for all.

    Returns
    -------
    ImageDataset
        ``images`` uint8; ``labels`` (index into ``class_names``, -1 = no class);
        ``file_names`` relative to ``path``; ``split`` (``train`` / ``test``) for the MVTec
        layout, else None; ``masks`` when a ``ground_truth/`` folder exists, else None.

    Raises
    ------
    FileNotFoundError
        ``path`` is not a folder.
    ValueError
        No image file in the folder; a file Pillow cannot read (named); images of several
        sizes without ``size`` (two of them named); a mask whose size differs from its
        image's; a bad ``size``.
    ImportError
        Pillow is missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("a", "b"):
    ...     Image.new("L", (8, 6), color=40).save(folder / f"{name}.png")
    >>> data = load_image_folder(folder)
    >>> data.images.shape, data.file_names.tolist(), data.labels.tolist()
    ((2, 6, 8), ['a.png', 'b.png'], [-1, -1])
    """
    root = Path(path)
    if not root.is_dir():
        msg = f"{root} is not a folder; load_image_folder reads a folder of image files."
        raise FileNotFoundError(msg)
    if size is not None:
        size = _check_size(size)
    mvtec = all((root / part).is_dir() for part in _MVTEC_PARTS)
    files, labels, class_names, parts = (_mvtec_files(root) if mvtec else _plain_files(root))
    if not files:
        where = (f"{root}/train/<class>/ or {root}/test/<class>/" if mvtec
                 else f"{root} or its sub-folders")
        msg = (f"no image file ({', '.join(IMAGE_SUFFIXES)}) in {where}; point "
               "load_image_folder at a folder of images.")
        raise ValueError(msg)
    images = _read_images(root, files, size, color)
    masks = None
    if mvtec and (root / "ground_truth").is_dir():
        masks = _read_masks(root, files, images.shape[-2:], size)
    return ImageDataset(images, np.asarray(labels, dtype=np.int64), tuple(class_names),
                        np.array([f.relative_to(root).as_posix() for f in files]),
                        np.array(parts) if mvtec else None, masks, root.name)


def _check_size(size) -> tuple[int, int]:
    try:
        height, width = (int(v) for v in size)
    except (TypeError, ValueError):
        msg = f"size must be (height, width), two positive integers; got {size!r}."
        raise ValueError(msg) from None
    if height < 1 or width < 1:
        msg = f"size must be (height, width), two positive integers; got {size!r}."
        raise ValueError(msg)
    return height, width


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in IMAGE_SUFFIXES)


def _sub_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _mvtec_files(root: Path) -> tuple[list[Path], list[int], list[str], list[str]]:
    names = {f.name for part in _MVTEC_PARTS for f in _sub_folders(root / part)}
    class_names = ([_NORMAL] if _NORMAL in names else []) + sorted(names - {_NORMAL})
    files, labels, parts = [], [], []
    for part in _MVTEC_PARTS:
        for folder in _sub_folders(root / part):
            found = _image_files(folder)
            files += found
            labels += [class_names.index(folder.name)] * len(found)
            parts += [part] * len(found)
    return files, labels, class_names, parts


def _plain_files(root: Path) -> tuple[list[Path], list[int], list[str], list[str]]:
    files = _image_files(root)
    labels = [-1] * len(files)
    class_names = []
    for folder in _sub_folders(root):
        found = _image_files(folder)
        if found:
            class_names.append(folder.name)
            files += found
            labels += [len(class_names) - 1] * len(found)
    return files, labels, class_names, []


def _pillow():
    try:
        from PIL import Image
    except ImportError as error:  # pragma: no cover - Pillow comes with matplotlib
        msg = "reading image files needs Pillow: pip install pillow"
        raise ImportError(msg) from error
    return Image


def _open(Image, path: Path):
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (OSError, Image.DecompressionBombError, SyntaxError, ValueError) as error:
        msg = f"cannot read the image {path} ({type(error).__name__}: {error})."
        raise ValueError(msg) from error


_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


def _read_images(root: Path, files: list[Path], size: tuple[int, int] | None,
                 color: bool | None) -> np.ndarray:
    Image = _pillow()
    opened = [_open(Image, f) for f in files]
    if color is None:
        color = any(im.mode not in _GRAY_MODES for im in opened)
    mode = "RGB" if color else "L"
    arrays = []
    sizes: dict[tuple[int, int], Path] = {}
    for path, image in zip(files, opened, strict=True):
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit: keep the top 8 bits' range
            values = np.asarray(image, dtype=np.float64)
            top = values.max() if values.size and values.max() > 255 else 255.0
            image = Image.fromarray(np.round(values * (255.0 / top)).astype(np.uint8))
        image = image.convert(mode)
        if size is not None and image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
        sizes.setdefault(array.shape[:2], path)
        arrays.append(array)
    if len(sizes) > 1:
        (first, a), (second, b) = list(sizes.items())[:2]
        msg = (f"the images have {len(sizes)} different sizes (height x width), e.g. "
               f"{first[0]}x{first[1]} ({a.relative_to(root)}) and {second[0]}x{second[1]} "
               f"({b.relative_to(root)}); pass size=(height, width) to resize them all.")
        raise ValueError(msg)
    images = np.stack(arrays)
    return images.transpose(0, 3, 1, 2).copy() if color else images


def _read_masks(root: Path, files: list[Path], shape: tuple[int, int],
                size: tuple[int, int] | None) -> np.ndarray:
    Image = _pillow()
    masks = np.zeros((len(files), *shape), dtype=bool)
    truth = root / "ground_truth"
    for i, path in enumerate(files):
        relative = path.relative_to(root)
        if relative.parts[0] != "test":
            continue
        candidates = [truth / relative.parent.name / f"{path.stem}{_MASK_SUFFIX}{suffix}"
                      for suffix in (path.suffix, ".png")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            continue
        mask = _open(Image, found).convert("L")
        if size is not None and mask.size != (size[1], size[0]):
            mask = mask.resize((size[1], size[0]), Image.Resampling.NEAREST)
        array = np.asarray(mask) > 0
        if array.shape != tuple(shape):
            msg = (f"the mask {found.relative_to(root)} is {array.shape[0]}x{array.shape[1]}; "
                   f"its image {relative} is {shape[0]}x{shape[1]}.")
            raise ValueError(msg)
        masks[i] = array
    return masks
