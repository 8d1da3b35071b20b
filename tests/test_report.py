"""``deepad report``: summary tables, rank statistics, figures, the Markdown / HTML pages, the CLI.

The results tables are built by hand so every number in the report can be checked: the AUC of
a job is ``MEANS[dataset][detector] + 0.01 * (seed - 1)``, so with seeds 0, 1, 2 a cell's mean
is the table value and its sample standard deviation 0.01. Five jobs do not finish ok:
detector D on d1 (three errors), A on d2 seed 2 (timeout) and C on d3 seed 0 (NaN scores).
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from deepad.bench.report import write_report
from deepad.bench.stats import (
    average_ranks,
    cliques,
    complete_block,
    critical_difference,
    friedman_test,
    nemenyi_q,
    rank_block,
    rank_statistics,
)
from deepad.bench.summary import (
    REQUIRED_COLUMNS,
    check_results,
    counterpart,
    metric_cells,
    peer_order,
    time_table,
)
from deepad.cli import app

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DETECTORS = ("A", "B", "C", "D")
SEEDS = (0, 1, 2)
MEANS = {  # dataset -> detector -> mean AUC-ROC over the seeds that finish
    "d1": {"A": 0.90, "B": 0.80, "C": 0.70, "D": 0.60},
    "d2": {"A": 0.85, "B": 0.75, "C": 0.65, "D": 0.60},
    "d3": {"A": 0.70, "B": 0.80, "C": 0.60, "D": 0.50},
    "d4": {"A": 0.60, "B": 0.70, "C": 0.95, "D": 0.55},
}
FIT_SECONDS = {"A": 1.0, "B": 10.0, "C": 0.1, "D": 100.0}
FAILED = {("D", "d1", 0): ("error", "Traceback (most recent call last):\n  File \"x.py\"\n"
                                    "RuntimeError: boom"),
          ("D", "d1", 1): ("error", "RuntimeError: boom"),
          ("D", "d1", 2): ("error", "RuntimeError: boom"),
          ("A", "d2", 2): ("timeout", "no result within 600 s"),
          ("C", "d3", 0): ("nan", "the scores hold NaN")}
DEMSAR_Q = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102,
            10: 3.164}  # Demšar (2006), Table 5(a), alpha = 0.05

runner = CliRunner()


def job(detector: str, dataset: str, seed: int, *, setting: str = "unsupervised",
        ratio: float = math.nan, auc: float | None = None) -> dict:
    status, error = FAILED.get((detector, dataset, seed), ("ok", None))
    ok = status == "ok"
    if auc is None:
        auc = MEANS[dataset][detector] + 0.01 * (seed - 1)
    return {"detector": detector, "params": json.dumps({"epochs": 5}), "dataset": dataset,
            "seed": seed, "setting": setting, "labeled_ratio": ratio,
            "auc_roc": auc if ok else math.nan, "auc_pr": auc / 2 if ok else math.nan,
            "precision_at_n": auc / 3 if ok else math.nan,
            "fit_seconds": FIT_SECONDS[detector] * (1 + 0.1 * seed) if ok else math.nan,
            "score_seconds": 0.01 if ok else math.nan,
            "peak_memory_mb": 100.0 if ok else math.nan, "status": status, "error": error}


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    return pd.DataFrame([job(d, ds, s) for ds in MEANS for d in DETECTORS for s in SEEDS])


@pytest.fixture(scope="module")
def report(results, tmp_path_factory) -> dict[str, Path]:
    return write_report(results, tmp_path_factory.mktemp("report"), title="Test report")


@pytest.fixture(scope="module")
def markdown(report) -> str:
    return report["report.md"].read_text(encoding="utf-8")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def table_row(markdown: str, first_cell: str, after: str) -> list[str]:
    """Cells of the first Markdown table row starting with ``first_cell`` after ``after``."""
    start = markdown.index(after)
    for line in markdown[start:].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells[1:]
    raise AssertionError(f"no row {first_cell!r} after {after!r}")


# ---------------------------------------------------------------------------- summary
def test_metric_cells_mean_std_and_counts(results):
    cells = metric_cells(check_results(results), "auc_roc").set_index(["dataset", "method"])
    full = cells.loc[("d1", "A")]
    assert full["mean"] == pytest.approx(0.90)
    assert full["std"] == pytest.approx(0.01)  # sample std of 0.89, 0.90, 0.91
    assert (full["n_ok"], full["n_jobs"]) == (3, 3)
    partial = cells.loc[("d2", "A")]  # seed 2 timed out: 0.84 and 0.85
    assert partial["mean"] == pytest.approx(0.845)
    assert partial["std"] == pytest.approx(np.std([0.84, 0.85], ddof=1))
    assert (partial["n_ok"], partial["n_jobs"]) == (2, 3)
    failed = cells.loc[("d1", "D")]
    assert math.isnan(failed["mean"]) and failed["n_ok"] == 0


def test_time_table_medians_over_ok_jobs(results):
    times = time_table(check_results(results))
    assert times.loc["B", "fit_seconds"] == pytest.approx(11.0)
    assert times.loc["A", "fit_seconds"] == pytest.approx(1.1)  # 11 ok jobs
    assert (times.loc["D", "jobs"], times.loc["D", "ok"]) == (12, 9)


def test_check_results_errors():
    with pytest.raises(ValueError, match="empty"):
        check_results(pd.DataFrame(columns=REQUIRED_COLUMNS))
    with pytest.raises(ValueError, match="auc_pr"):
        check_results(pd.DataFrame([job("A", "d1", 0)]).drop(columns="auc_pr"))
    with pytest.raises(TypeError, match="DataFrame"):
        check_results([job("A", "d1", 0)])


# ---------------------------------------------------------------------------- statistics
def test_average_ranks_hand_worked_with_ties():
    block = pd.DataFrame({"A": [0.9, 0.7, 0.5], "B": [0.8, 0.9, 0.5], "C": [0.8, 0.6, 0.5]},
                         index=["d1", "d2", "d3"])
    assert rank_block(block).to_numpy().tolist() == [[1, 2.5, 2.5], [2, 1, 3], [2, 2, 2]]
    ranks = average_ranks(block)
    assert list(ranks.index) == ["A", "B", "C"]
    assert ranks.to_numpy() == pytest.approx([5 / 3, 5.5 / 3, 7.5 / 3])
    assert ranks.sum() == pytest.approx(3 * 4 / 2)


def test_friedman_equals_scipy_and_demsar_formula():
    rng = np.random.default_rng(1)
    block = pd.DataFrame(rng.uniform(size=(8, 5)), columns=list("abcde"))  # no ties
    result = friedman_test(block)
    expected = scipy_stats.friedmanchisquare(*(block[c] for c in block.columns))
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.pvalue == pytest.approx(expected.pvalue)
    n, k = block.shape
    r = average_ranks(block).to_numpy()
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(r**2) - k * (k + 1) ** 2 / 4)  # Demšar eq. (2)
    assert result.statistic == pytest.approx(chi2)
    f_stat = (n - 1) * chi2 / (n * (k - 1) - chi2)
    assert result.f_statistic == pytest.approx(f_stat)
    assert result.f_pvalue == pytest.approx(scipy_stats.f.sf(f_stat, k - 1, (k - 1) * (n - 1)))


def test_friedman_needs_three_detectors_and_two_datasets():
    with pytest.raises(ValueError, match="at least 3 methods"):
        friedman_test(pd.DataFrame({"a": [0.9, 0.8], "b": [0.7, 0.6]}))
    two = rank_statistics(pd.DataFrame({"a": [0.9, 0.8], "b": [0.7, 0.6]}))
    assert two.friedman is None and "at least 3 detectors" in two.friedman_note
    assert two.cd == pytest.approx(critical_difference(2, 2))
    one = rank_statistics(pd.DataFrame({"a": [0.9], "b": [0.7], "c": [0.5]}))
    assert one.friedman is None and one.cd is None and "2 datasets" in one.cd_note


def test_nemenyi_q_matches_demsar_table():
    for k, q in DEMSAR_Q.items():
        assert nemenyi_q(k) == pytest.approx(q, abs=1e-3), k
    values = [nemenyi_q(k) for k in range(2, 21)]
    assert np.all(np.diff(values) > 0) and values[-1] == pytest.approx(3.544, abs=1e-3)
    with pytest.raises(ValueError, match="k >= 2"):
        nemenyi_q(1)


def test_critical_difference_formula():
    # Demšar's worked example (Section 3.2.4): k = 4, N = 14 gives CD = 1.25
    assert critical_difference(4, 14) == pytest.approx(1.25, abs=5e-3)
    for k, n in ((3, 5), (10, 30), (20, 8)):
        expected = nemenyi_q(k) * math.sqrt(k * (k + 1) / (6 * n))
        assert critical_difference(k, n) == pytest.approx(expected)


def test_cliques_are_maximal_groups_within_cd():
    ranks = pd.Series({"a": 1.0, "b": 1.8, "c": 2.5, "d": 3.9, "e": 4.0})
    assert cliques(ranks, 1.5) == [["a", "b", "c"], ["c", "d", "e"]]
    assert cliques(ranks, 0.15) == [["d", "e"]]
    assert cliques(ranks, 0.05) == []
    assert cliques(ranks, 5.0) == [["a", "b", "c", "d", "e"]]


def test_complete_block_leaves_out_datasets_and_empty_detectors():
    means = pd.DataFrame({"a": [0.9, 0.8, 0.7], "b": [np.nan, 0.6, 0.5],
                          "c": [np.nan] * 3}, index=["x", "y", "z"])
    block, datasets, methods = complete_block(means)
    assert list(block.index) == ["y", "z"] and list(block.columns) == ["a", "b"]
    assert datasets == ["x"] and methods == ["c"]


def test_rank_statistics_on_results(results):
    frame = check_results(results)
    means = metric_cells(frame, "auc_roc").pivot(index="dataset", columns="method",
                                                 values="mean")
    stats = rank_statistics(means)
    assert stats.left_out_datasets == ["d1"]  # D failed on every seed of d1
    assert stats.ranks.to_dict() == pytest.approx({"A": 2.0, "B": 5 / 3, "C": 7 / 3, "D": 4.0})
    assert stats.cd == pytest.approx(critical_difference(4, 3))
    assert stats.friedman is not None and stats.friedman.n_datasets == 3


# ---------------------------------------------------------------------------- report
def test_report_writes_markdown_html_and_figures(report):
    assert set(report) == {"report.md", "report.html", "cd_diagram.png",
                           "boxplot_auc_roc.png", "auc_vs_time.png"}
    for path in report.values():
        assert path.is_file() and path.stat().st_size > 1000


def test_markdown_tables_hold_the_numbers(markdown):
    after = "### AUC-ROC"
    assert table_row(markdown, "d1", after) == [
        "**0.900 ± 0.010**", "0.800 ± 0.010", "0.700 ± 0.010", "fail"]
    assert table_row(markdown, "d2", after)[0] == "**0.845 ± 0.007 (2/3)**"
    assert table_row(markdown, "d3", after)[2] == "0.605 ± 0.007 (2/3)"
    # mean and rank rows over d2, d3, d4 only (d1 lacks D)
    assert table_row(markdown, "mean", after) == ["0.715", "**0.750**", "0.735", "0.550"]
    assert table_row(markdown, "average rank", after) == ["2.00", "**1.67**", "2.33", "4.00"]
    assert "left out: d1" in markdown
    pr = table_row(markdown, "d4", "### AUC-PR")
    assert pr == ["0.300 ± 0.005", "0.350 ± 0.005", "**0.475 ± 0.005**", "0.275 ± 0.005"]
    fit = table_row(markdown, "B", "### Fit time")
    assert fit[:3] == ["12", "12", "11"]
    assert table_row(markdown, "C", "### Fit time")[2] == "**0.11**"


def test_fit_cpu_time_column_when_the_store_records_it(results, tmp_path):
    assert "median fit CPU" not in time_table(check_results(results)).to_string()
    with_cpu = results.assign(fit_cpu_seconds=results["fit_seconds"] / 2)
    with_cpu.loc[with_cpu["detector"] == "A", "fit_cpu_seconds"] = 50.0
    times = time_table(check_results(with_cpu))
    assert times.loc["A", "fit_cpu_seconds"] == pytest.approx(50.0)
    assert times.loc["B", "fit_cpu_seconds"] == pytest.approx(5.5)
    text = write_report(with_cpu, tmp_path, title="cpu")["report.md"].read_text("utf-8")
    assert "median fit CPU (s)" in text
    assert table_row(text, "A", "### Fit time")[3] == "50"
    assert table_row(text, "C", "### Fit time")[3] == "**0.055**"  # least CPU: bold


def test_markdown_shows_every_failure(markdown):
    assert "48 jobs: 43 finished ok, 5 did not (3 error, 1 timeout, 1 nan)" in markdown
    failures = markdown[markdown.index("## Failures"):]
    assert "5 of 48 jobs gave no result" in failures
    rows = [line for line in failures.splitlines() if line.startswith("| ") and
            not line.startswith("| detector")]
    assert len(rows) == 5
    assert "| D | d1 | 0 | error | RuntimeError: boom |" in failures  # traceback: last line
    assert "| A | d2 | 2 | timeout | no result within 600 s |" in failures
    assert "| C | d3 | 0 | nan | the scores hold NaN |" in failures


def test_markdown_statistics_section(markdown):
    section = markdown[markdown.index("### Statistical comparison"):]
    assert "Friedman chi-square" in section and "Iman-Davenport" in section
    assert f"CD = {critical_difference(4, 3):.3f}" in section
    assert "![" in section and "(cd_diagram.png)" in section


def test_html_is_self_contained(report):
    page = report["report.html"].read_text(encoding="utf-8")
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 3
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r"<link|<script|href=|url\(|@import", page)
    first = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    import base64

    assert base64.b64decode(first)[:8] == PNG_MAGIC
    assert "<strong>0.900 ± 0.010</strong>" in page
    assert "RuntimeError: boom" in page


def test_pngs_are_valid_and_readable(report):
    for name in ("cd_diagram.png", "boxplot_auc_roc.png", "auc_vs_time.png"):
        width, height = png_size(report[name])
        assert width > 400 and height > 200, (name, width, height)
        assert report[name].stat().st_size > 10_000


def test_figures_grow_with_many_long_named_detectors(tmp_path):
    from deepad.bench.figures import boxplot_auc, cd_diagram

    names = [f"deepod:Detector{i:02d}-with-a-long-name" for i in range(20)]
    ranks = pd.Series(np.linspace(1.5, 19.5, 20), index=names)
    small = cd_diagram(tmp_path / "small.png", ranks.iloc[:4], 1.0, [])
    large = cd_diagram(tmp_path / "large.png", ranks, critical_difference(20, 10),
                       cliques(ranks, critical_difference(20, 10)))
    assert png_size(large)[0] > png_size(small)[0]
    assert png_size(large)[1] > png_size(small)[1]
    means = pd.DataFrame(np.random.default_rng(0).uniform(0.5, 1, (6, 20)), columns=names)
    box_large = png_size(boxplot_auc(tmp_path / "box20.png", means))
    box_small = png_size(boxplot_auc(tmp_path / "box4.png", means.iloc[:, :4]))
    assert box_large[1] > 2 * box_small[1]


def test_mixed_settings_get_sections(tmp_path):
    rows = [job(d, ds, s) for ds in ("d2", "d3") for d in "ABC" for s in SEEDS]
    rows += [job(d, ds, s, setting="weak", ratio=0.1, auc=0.5 + 0.1 * i)
             for ds in ("d2", "d3", "d4") for i, d in enumerate("AB") for s in SEEDS
             if (d, ds) != ("B", "d4")]  # B never ran on d4: "—"
    paths = write_report(pd.DataFrame(rows), tmp_path)
    text = paths["report.md"].read_text(encoding="utf-8")
    assert text.index("## Results: unsupervised") < text.index(
        "## Results: weak (labeled_ratio 0.1)")
    # three detectors unsupervised: a CD diagram; two in the weak setting: none, and why
    assert "cd_diagram_weak_labeled_ratio_0.1.png" not in paths
    assert "cd_diagram_unsupervised.png" in paths
    weak = text[text.index("## Results: weak"):]
    assert ("No critical-difference diagram: 2 detectors ranked; the diagram is drawn for 3 "
            "or more") in weak
    assert table_row(text, "d4", "## Results: weak") == ["**0.500 ± 0.000**", "—"]
    assert "AUC-ROC: no Friedman test: it needs at least 3 detectors; 2 compared." in weak
    assert "| setting | detector |" in text  # the failures table names the setting


def test_method_labels_separate_parameter_sets(tmp_path):
    rows = [job(d, ds, s) for d in "AB" for ds in ("d1", "d2") for s in SEEDS]
    rows += [job("B", ds, s) | {"params": json.dumps({"epochs": 20})}
             for ds in ("d1", "d2") for s in SEEDS]
    text = write_report(pd.DataFrame(rows), tmp_path)["report.md"].read_text(encoding="utf-8")
    assert "| dataset | A | B (epochs=5) | B (epochs=20) |" in text


# ---------------------------------------------------------------------------- CLI
def write_db(path: Path, frame: pd.DataFrame) -> Path:
    """A SQLite file with a ``results`` table as the benchmark store writes it."""
    from deepad.bench.store import COLUMNS

    table = frame.copy()
    table["run_key"] = [f"job{i}" for i in range(len(table))]
    for column in COLUMNS:
        if column not in table.columns:
            table[column] = None
    with sqlite3.connect(path) as connection:
        table[list(COLUMNS)].to_sql("results", connection, index=False)
    return path


def test_cli_report_from_database(results, tmp_path):
    db = write_db(tmp_path / "results.db", results)
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", str(db), "--out", str(out), "--title", "CLI run"])
    assert result.exit_code == 0, result.output
    assert "5 of them not ok" in result.output
    assert png_size(out / "cd_diagram.png")[0] > 400
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<title>CLI run</title>" in page and "RuntimeError: boom" in page


def test_cli_report_errors(results, tmp_path):
    missing = runner.invoke(app, ["report", str(tmp_path / "nope.db"), "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "Error: no benchmark database" in missing.output
    empty = write_db(tmp_path / "empty.db", results.iloc[0:0])
    result = runner.invoke(app, ["report", str(empty), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "holds no finished job" in result.output
    db = write_db(tmp_path / "results.db", results)
    weak = runner.invoke(app, ["report", str(db), "--setting", "weak",
                               "--out", str(tmp_path / "w")])
    assert weak.exit_code == 2 and "no weak runs" in weak.output
    assert "settings present: unsupervised" in weak.output
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE x (a)")
    result = runner.invoke(app, ["report", str(other), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "not a deepad benchmark database" in result.output
    assert "Traceback" not in result.output


def test_cli_report_only_some_seeds(results, tmp_path):
    db = write_db(tmp_path / "results.db", results)
    seed = int(results["seed"].max())
    out = tmp_path / "one"
    result = runner.invoke(app, ["report", str(db), "--seeds", str(seed), "--out", str(out)])
    assert result.exit_code == 0, result.output
    kept = int((results["seed"] == seed).sum())
    assert f"{kept} jobs from" in result.output and kept < len(results)
    assert f"- Seeds: {seed}\n" in (out / "report.md").read_text(encoding="utf-8")
    missing = runner.invoke(app, ["report", str(db), "--seeds", "97,98",
                                  "--out", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "no runs of seeds 97,98" in missing.output
    bad = runner.invoke(app, ["report", str(db), "--seeds", "one", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


# ---------------------------------------------------------------- peers, versions, captions
def peer_rows() -> pd.DataFrame:
    """DevNet against PyOD's (below chance) and DeepOD's, one peer without a counterpart
    (PyOD's IForest) and one with an unknown low score (DeepOD's RDP), 3 datasets."""
    means = {"pyod:DevNet": 0.30, "deepod:DevNet": 0.80, "pyod:IForest": 0.70,
             "DevNet": 0.90, "deepod:RDP": 0.40, "RDP": 0.75}
    versions = {"pyod": "3.6.7", "deepod": "0.4.1"}
    rows = []
    for detector, mean in means.items():
        for i, dataset in enumerate(("d1", "d2", "d3")):
            for seed in SEEDS:
                auc = mean + 0.01 * i + 0.01 * (seed - 1)
                package = detector.partition(":")[0] if ":" in detector else None
                rows.append({
                    "detector": detector, "params": "{}", "dataset": dataset, "seed": seed,
                    "setting": "unsupervised", "labeled_ratio": math.nan, "auc_roc": auc,
                    "auc_pr": auc / 2, "precision_at_n": auc / 3, "fit_seconds": 1.0,
                    "score_seconds": 0.1, "peak_memory_mb": 10.0, "status": "ok",
                    "error": None, "deepad_version": "0.1.0", "torch_version": "2.13.0+cpu",
                    "numpy_version": "2.4.6", "sklearn_version": "1.9.1",
                    "python_version": "3.11.7", "peer_version": versions.get(package)})
    return pd.DataFrame(rows)


def test_counterpart_and_peer_order():
    assert counterpart("deepod:DeepSVDDTS") == "DeepSVDD"
    assert counterpart("pyod:DevNet (epochs=5)") == "DevNet"
    assert counterpart("DevNet (epochs=5)") == "DevNet"
    assert peer_order(["pyod:IForest", "deepod:RDP", "RDP", "pyod:DevNet", "DevNet"]) == [
        "RDP", "deepod:RDP", "DevNet", "pyod:DevNet", "pyod:IForest"]
    # two parameter sets of one detector: the peers follow the first of them
    assert peer_order(["DevNet (a=1)", "pyod:DevNet", "DevNet (a=2)"]) == [
        "DevNet (a=1)", "pyod:DevNet", "DevNet (a=2)"]


def test_peers_sit_beside_their_counterpart(tmp_path):
    text = write_report(peer_rows(), tmp_path)["report.md"].read_text(encoding="utf-8")
    section = text[text.index("### AUC-ROC"):]
    header = next(line for line in section.splitlines() if line.startswith("| dataset"))
    assert [c.strip() for c in header.strip("|").split("|")][1:] == [
        "DevNet", "pyod:DevNet", "deepod:DevNet", "RDP", "deepod:RDP", "pyod:IForest"]


def test_versions_come_from_the_store(tmp_path):
    text = write_report(peer_rows(), tmp_path)["report.md"].read_text(encoding="utf-8")
    assert "| torch | 2.13.0+cpu (54) |" in text
    assert "| pyod | 3.6.7 (18) |" in text and "| deepod | 0.4.1 (18) |" in text


def test_peer_notes_explain_known_defects_and_below_chance(tmp_path):
    text = write_report(peer_rows(), tmp_path)["report.md"].read_text(encoding="utf-8")
    notes = [line for line in text.splitlines() if line.startswith("Peer note:")]
    devnet = next(n for n in notes if n.startswith("Peer note: pyod:DevNet (pyod 3.6.7)"))
    assert "mean AUC-ROC 0.310" in devnet and "below chance (0.5) on 3" in devnet
    assert "deviation_loss(outputs, labels)" in devnet and "deepad's DevNet" in devnet
    rdp = next(n for n in notes if n.startswith("Peer note: deepod:RDP (deepod 0.4.1)"))
    assert "No defect is known" in rdp
    # a peer at or above chance with no known defect gets no note; deepad detectors none
    assert not any("IForest" in n or "deepod:DevNet" in n for n in notes)
    assert len(notes) == 2  # under the AUC-ROC table only


def test_caption_rules_stated_once_per_page(tmp_path):
    rows = pd.concat([peer_rows(), peer_rows().assign(setting="weak", labeled_ratio=0.1)])
    text = write_report(rows, tmp_path)["report.md"].read_text(encoding="utf-8")
    assert text.count("## How to read the tables") == 1
    for rule in ("Cells: mean ± sample standard deviation", "\"mean, all\" and",
                 "ties share the average rank", "followed by its PyOD / DeepOD counterparts"):
        assert text.count(rule) == 1, rule
    assert text.index("## How to read the tables") < text.index("## Results:")
    assert text.count("Complete cases (the \"mean\" and \"average rank\" rows)") == 4


def test_series_report_notes_a_peer_below_chance_and_states_rules_once(tmp_path):
    rows = peer_rows()
    rows = rows[rows.detector.isin(["RDP", "deepod:RDP"])].assign(setting="series")
    rows["dataset"] = rows["dataset"].map({"d1": "UCR/1", "d2": "UCR/2", "d3": "UCR/3"})
    text = write_report(rows, tmp_path)["report.md"].read_text(encoding="utf-8")
    assert text.count("## How to read the tables") == 1
    assert text.count("\"mean, all\" and") == 1
    note = next(line for line in text.splitlines() if line.startswith("Peer note:"))
    assert note.startswith("Peer note: deepod:RDP (deepod 0.4.1): mean AUC-ROC 0.410 over the "
                           "3 series it has a result on, below chance (0.5) on 3.")
    assert "| torch | 2.13.0+cpu (18) |" in text
