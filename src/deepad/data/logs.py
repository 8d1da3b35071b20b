"""System logs as sessions of integer event keys (log keys), for event detectors (DeepLog).

- :func:`read_sessions`: one session per line of space-separated integer keys (the format of
  the DeepLog HDFS preprocessing).
- :func:`load_hdfs_deeplog`: the HDFS sessions preprocessed for DeepLog (normal training
  sessions and abnormal test sessions; Xu et al., SOSP 2009; Du et al., CCS 2017).
- :func:`hdfs_deeplog_split`: the evaluation protocol used when the normal test file is
  absent: a seeded share of the normal training sessions is held out as normal test
  sessions, the abnormal sessions are the anomalies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

HDFS_TRAIN = "hdfs_train"
HDFS_TEST_ABNORMAL = "hdfs_test_abnormal"
HDFS_TEST_NORMAL = "hdfs_test_normal"


def read_sessions(path: str | Path) -> list[np.ndarray]:
    """Sessions of a text file with one session per line of whitespace-separated integer keys.

    Blank lines are skipped; keys are returned as written (HDFS keys are 1-based). Raises
    ``FileNotFoundError`` for a missing file and ``ValueError`` naming the line of a token
    that is not an integer.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path} does not exist; expected a file of sessions (one per line)."
        raise FileNotFoundError(msg)
    sessions = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            tokens = line.split()
            if not tokens:
                continue
            try:
                sessions.append(np.array(tokens, dtype=np.int64))
            except ValueError as error:
                msg = f"{path}, line {number}: expected integer event keys ({error})."
                raise ValueError(msg) from error
    return sessions


def load_hdfs_deeplog(directory: str | Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(normal, abnormal)`` HDFS sessions of the DeepLog preprocessing in ``directory``.

    ``directory`` holds ``hdfs_train`` (4,855 normal sessions in the shared copy) and
    ``hdfs_test_abnormal`` (16,838 anomalous sessions), as in the repository
    ``wuyifan18/DeepLog`` (folder ``data``). Keys are the 1-based log-key ids of the files.
    """
    directory = Path(directory)
    missing = [name for name in (HDFS_TRAIN, HDFS_TEST_ABNORMAL)
               if not (directory / name).is_file()]
    if missing:
        msg = (f"{directory} lacks {missing}; expected the DeepLog HDFS files hdfs_train and "
               "hdfs_test_abnormal (github.com/wuyifan18/DeepLog, folder data).")
        raise FileNotFoundError(msg)
    return read_sessions(directory / HDFS_TRAIN), read_sessions(directory / HDFS_TEST_ABNORMAL)


@dataclass(frozen=True)
class SessionSplit:
    """Sessions of one evaluation run: normal training sessions, and test sessions with
    labels (1 = anomalous)."""

    train: list[np.ndarray]
    test: list[np.ndarray]
    y_test: np.ndarray


def hdfs_deeplog_split(directory: str | Path, *, holdout: float = 0.2,
                       n_abnormal: int | None = None, random_state: int = 0) -> SessionSplit:
    """The HDFS protocol without the normal test file.

    The normal test sessions of the DeepLog preprocessing (``hdfs_test_normal``, ~553k) are
    not in the shared copy, so a seeded share ``holdout`` of ``hdfs_train`` is held out as
    normal test sessions and the rest is the training set; every session of
    ``hdfs_test_abnormal`` (or ``n_abnormal`` of them drawn without replacement) is an
    anomaly. Test sessions are the held-out normal ones, then the abnormal ones.
    """
    if not 0.0 < holdout < 1.0:
        msg = f"holdout must be in (0, 1); got {holdout!r}."
        raise ValueError(msg)
    normal, abnormal = load_hdfs_deeplog(directory)
    rng = np.random.default_rng(random_state)
    order = rng.permutation(len(normal))
    n_test = int(round(holdout * len(normal)))
    if n_abnormal is not None:
        if not 0 < n_abnormal <= len(abnormal):
            msg = f"n_abnormal must be in [1, {len(abnormal)}]; got {n_abnormal!r}."
            raise ValueError(msg)
        abnormal = [abnormal[i] for i in np.sort(rng.choice(len(abnormal), n_abnormal,
                                                            replace=False))]
    train = [normal[i] for i in np.sort(order[n_test:])]
    test = [normal[i] for i in np.sort(order[:n_test])] + abnormal
    y_test = np.r_[np.zeros(n_test, dtype=np.int64), np.ones(len(abnormal), dtype=np.int64)]
    return SessionSplit(train=train, test=test, y_test=y_test)
