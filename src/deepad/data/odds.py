"""ODDS ``.mat`` datasets (Outlier Detection DataSets, odds.cs.stonybrook.edu).

Rayana, "ODDS Library", Stony Brook University, Department of Computer Sciences, 2016. Each
file holds a feature matrix ``X`` (n_samples, n_features) and a label column ``y``
(n_samples, 1) with 1 = outlier. Most files are MATLAB v5 files, read with
:func:`scipy.io.loadmat`; a few large ones (e.g. ``http.mat``, ``smtp.mat``) are MATLAB v7.3
files, which are HDF5 files and need ``h5py``.

numpy / scipy only (``h5py`` is imported where used).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse

from deepad.data.tables import _check_labels

__all__ = ["load_odds"]

_HDF5_MAJOR_VERSION = 2  # scipy.io.matlab.matfile_version of a MATLAB v7.3 (HDF5) file


def load_odds(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of an ODDS ``.mat`` file.

    Parameters
    ----------
    path : str or Path
        An ODDS ``.mat`` file holding the arrays ``X`` (n_samples, n_features) and ``y``
        (n_samples, 1) or (n_samples,). MATLAB v4 / v5 files are read with
        :func:`scipy.io.loadmat`; MATLAB v7.3 files (HDF5) with ``h5py``, whose arrays are
        stored transposed and are transposed back here.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, n_features)
        The features, converted to float64 and otherwise unchanged (NaN, if any, is kept and
        reported by the detector's input validation).
    y : ndarray of int64, shape (n_samples,)
        1 = outlier (anomaly), 0 = inlier.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not a readable ``.mat`` file, lacks ``X`` or ``y``, has arrays of the
        wrong shape or type, or has labels other than 0 and 1. The message names the file and
        what was found.
    ImportError
        A MATLAB v7.3 file without ``h5py`` installed (``pip install h5py``).

    See Also
    --------
    deepad.data.adbench.load_adbench : the ADBench ``.npz`` files, which include most ODDS
        datasets already converted.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, scipy.io
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> scipy.io.savemat(folder / "toy.mat", {"X": np.eye(3), "y": np.array([[0], [0], [1]])})
    >>> X, y = load_odds(folder / "toy.mat")
    >>> X.shape, X.dtype, y.tolist()
    ((3, 3), dtype('float64'), [0, 0, 1])
    """
    path = Path(path)
    if not path.exists():
        msg = f"No such ODDS file: {path}"
        raise FileNotFoundError(msg)
    if not path.is_file():
        msg = f"{path} is not a file; expected an ODDS .mat file with arrays X and y."
        raise ValueError(msg)
    try:
        version = scipy.io.matlab.matfile_version(path)
    except (scipy.io.matlab.MatReadError, ValueError, OSError, IndexError) as error:
        msg = f"{path} is not a MATLAB .mat file ({error})."
        raise ValueError(msg) from error
    if version[0] == _HDF5_MAJOR_VERSION:
        arrays, names = _read_hdf5(path)
    else:
        arrays, names = _read_mat(path)
    return _check_arrays(path, arrays, names)


def _read_mat(path: Path) -> tuple[dict[str, object], list[str]]:
    """``{name: value}`` of the variables of a MATLAB v4 / v5 file, and all their names."""
    try:
        content = scipy.io.loadmat(path)
    except (scipy.io.matlab.MatReadError, ValueError, OSError, TypeError) as error:
        msg = f"{path} could not be read as a MATLAB .mat file ({error})."
        raise ValueError(msg) from error
    names = [name for name in content if not name.startswith("__")]
    return {name: content[name] for name in ("X", "y") if name in content}, names


def _read_hdf5(path: Path) -> tuple[dict[str, object], list[str]]:
    """Like :func:`_read_mat` for a MATLAB v7.3 (HDF5) file; arrays are transposed back."""
    try:
        import h5py
    except ImportError as error:
        msg = (f"{path} is a MATLAB v7.3 file (HDF5); reading it needs h5py: "
               "pip install h5py.")
        raise ImportError(msg) from error
    arrays: dict[str, object] = {}
    try:
        with h5py.File(path, "r") as file:
            names = [name for name in file if not name.startswith("#")]
            for name in ("X", "y"):
                if name not in file:
                    continue
                node = file[name]
                if not isinstance(node, h5py.Dataset):
                    msg = (f"{path}: {name!r} is a MATLAB {type(node).__name__} (a struct or "
                           "cell array); expected a numeric matrix.")
                    raise ValueError(msg)
                # MATLAB writes column-major arrays, so h5py sees them transposed
                arrays[name] = np.asarray(node[()]).T
    except OSError as error:
        msg = f"{path} could not be read as a MATLAB v7.3 (HDF5) file ({error})."
        raise ValueError(msg) from error
    return arrays, names


def _check_arrays(path: Path, arrays: dict[str, object],
                  names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(X float64 (n, d), y int64 (n,))`` from the variables of ``path``."""
    missing = [name for name in ("X", "y") if name not in arrays]
    if missing:
        msg = (f"{path} has no variable {' or '.join(repr(m) for m in missing)} (variables: "
               f"{names}); an ODDS file holds X (n_samples, n_features) and y "
               "(n_samples, 1).")
        raise ValueError(msg)
    X, y = (_dense(arrays[name]) for name in ("X", "y"))
    for name, array in (("X", X), ("y", y)):
        if array.dtype.kind not in "biuf":
            msg = (f"{path}: variable {name!r} holds {array.dtype} values (text, a struct or "
                   "a cell array); expected a numeric matrix.")
            raise ValueError(msg)
    if X.ndim != 2:
        msg = (f"{path}: variable 'X' has shape {X.shape}; expected 2-D "
               "(n_samples, n_features).")
        raise ValueError(msg)
    shape = y.shape
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.ndim != 1 or len(y) != len(X):
        msg = (f"{path}: variable 'y' has shape {shape} for X of shape {X.shape}; expected "
               f"({len(X)}, 1) or ({len(X)},), one label per row of X.")
        raise ValueError(msg)
    return X.astype(np.float64), _check_labels(y, f"variable 'y' of {path}")


def _dense(value: object) -> np.ndarray:
    """``value`` as a dense ndarray (some MATLAB matrices are saved sparse)."""
    if scipy.sparse.issparse(value):
        return value.toarray()
    return np.asarray(value)
