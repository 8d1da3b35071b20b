"""Datasets, protocols and synthetic anomalies (numpy / pandas / scikit-learn only).

Tabular: :func:`load_adbench` (by name or path, verified download), :func:`load_odds`,
:func:`load_table`; protocol :func:`adbench_split` with ADBench's robustness settings;
synthetic anomalies :func:`make_adbench_synthetic`. Series: :func:`load_nab`,
:func:`load_smap_msl`, :func:`load_ucr`, :func:`load_smd`, :func:`sliding_windows`,
:func:`window_scores_to_points`. Images: :func:`load_fashion_mnist`, :func:`load_mnist`,
:func:`load_image_folder` (PNG / JPEG folders, the MVTec-AD layout; an :class:`ImageDataset`),
:func:`one_class_split`. Event
sequences (log keys): :func:`load_hdfs_deeplog`, :func:`hdfs_deeplog_split`. Graphs:
:func:`load_pygod` (the BOND graphs), :func:`load_planetoid` (Cora, CiteSeer),
:func:`read_graph_npz`, :func:`check_graph` (a validated :class:`Graph`), outlier injection
:func:`inject_contextual` / :func:`inject_structural`. Video:
:func:`load_ucsd_ped2`, :func:`frame_clips`, :func:`clip_scores_to_frames`,
:func:`minmax_per_video`, :func:`irregularity_per_video`.
"""

from deepad.data.adbench import Split, adbench_split, data_dirs, load_adbench
from deepad.data.catalog import local_datasets
from deepad.data.categorical_anomalies import make_rare_combinations
from deepad.data.encoding import encode_categorical
from deepad.data.graph import Graph, check_graph
from deepad.data.graphs import (
    inject_contextual,
    inject_structural,
    load_planetoid,
    load_pygod,
    read_graph_npz,
)
from deepad.data.image_folder import load_image_folder
from deepad.data.images import ImageDataset, load_fashion_mnist, load_mnist, one_class_split
from deepad.data.logs import hdfs_deeplog_split, load_hdfs_deeplog
from deepad.data.odds import load_odds
from deepad.data.planted import make_planted_feature_anomalies
from deepad.data.streaming import BatchSource, ParquetSource, scan
from deepad.data.synthetic_anomalies import make_adbench_synthetic
from deepad.data.tables import load_table
from deepad.data.timeseries import (
    SeriesDataset,
    load_nab,
    load_smap_msl,
    load_smd,
    load_ucr,
)
from deepad.data.video import (
    VideoDataset,
    clip_scores_to_frames,
    frame_clips,
    irregularity_per_video,
    load_ucsd_ped2,
    minmax_per_video,
)
from deepad.data.windows import sliding_windows, window_labels, window_scores_to_points

__all__ = [
    "Graph", "check_graph", "inject_contextual", "inject_structural", "load_planetoid",
    "load_pygod", "read_graph_npz",
    "BatchSource", "ImageDataset", "ParquetSource", "scan",
    "SeriesDataset", "Split", "adbench_split", "data_dirs", "encode_categorical",
    "hdfs_deeplog_split", "load_adbench", "load_fashion_mnist", "load_hdfs_deeplog",
    "load_image_folder", "load_mnist", "load_nab",
    "load_odds", "load_smap_msl", "load_smd",
    "load_table", "load_ucr", "local_datasets", "make_adbench_synthetic",
    "make_planted_feature_anomalies", "make_rare_combinations",
    "one_class_split",
    "sliding_windows", "window_labels", "window_scores_to_points",
    "VideoDataset", "clip_scores_to_frames", "frame_clips", "load_ucsd_ped2",
    "irregularity_per_video", "minmax_per_video",
]
