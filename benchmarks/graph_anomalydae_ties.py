"""deepad's AnomalyDAE and PyGOD's on the same graph and seed: how far their scores differ, and
how many distinct score values each graph's ranking rests on.

Both are fitted as the graph bench fits them (the worker seeds the global generators with the
job's seed, PyGOD through deepad's full-graph loader), at their defaults; the table gives each
one's AUC-ROC, the largest relative difference between their per-node scores, the Spearman
correlation of the two rankings, the 5-95 % spread of PyGOD's scores relative to their median,
and the number of distinct score values among the nodes (float32 scores). Printed as a
Markdown table; one thread, run under ``nice``:

    DEEPAD_DATA_DIR=../shared/datasets PYTHONPATH=../peers nice -n 10 \\
        python benchmarks/graph_anomalydae_ties.py [--graphs books,disney] [--seeds 0,1,2,3,4]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", default="books,disney")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    options = parser.parse_args()
    import torch
    from scipy.stats import spearmanr

    from deepad import AnomalyDAE
    from deepad.bench.peers import PyGODGraph, peer_class
    from deepad.bench.worker import seed_globals
    from deepad.data.graphs import find_graph_file, read_graph_npz
    from deepad.metrics import auc_roc

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    print("| graph | seed | deepad AUC-ROC | PyGOD AUC-ROC | max relative score difference "
          "| Spearman | PyGOD 5-95 % spread / median | distinct scores: deepad / PyGOD "
          "(nodes) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in options.graphs.split(","):
        graph, y = read_graph_npz(find_graph_file(name))
        for seed in map(int, options.seeds.split(",")):
            seed_globals(seed)
            ours = AnomalyDAE(random_state=seed).fit(graph).decision_function(graph)
            seed_globals(seed)
            peer = PyGODGraph(peer_class("pygod", "AnomalyDAE")(gpu=-1, verbose=0))
            theirs = peer.fit(graph).decision_function(graph)
            rel = float((np.abs(ours - theirs) / np.abs(theirs)).max())
            spread = float((np.percentile(theirs, 95) - np.percentile(theirs, 5))
                           / np.median(theirs))
            print(f"| {name} | {seed} | {auc_roc(y, ours):.4f} | {auc_roc(y, theirs):.4f} | "
                  f"{rel:.1e} | {spearmanr(ours, theirs)[0]:.4f} | {spread:.1e} | "
                  f"{len(np.unique(ours.astype(np.float32)))} / "
                  f"{len(np.unique(theirs.astype(np.float32)))} ({len(y)}) |", flush=True)


if __name__ == "__main__":
    main()
