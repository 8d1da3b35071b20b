"""UCSD Ped2 frame-level benchmark of the video detectors (future frame prediction, Conv-AE,
MIL ranking, SDOR, Deep SVDD on clips): the result page docs/results/ped2_video.md.

    python benchmarks/ped2_video.py all                # every missing default job (resumes)
    python benchmarks/ped2_video.py all --only ffp_long  # named jobs
    python benchmarks/ped2_video.py run ffp            # one job -> docs/results/ped2_video/ffp.json
    python benchmarks/ped2_video.py report             # docs/results/ped2_video.md from the files

The jobs, their settings, the protocol and the report are those of ``deepad bench --suite
ped2`` (:mod:`deepad.bench.video_suite`); this script runs them on the shared datasets folder
and writes the report as the documentation's result page. Jobs run one at a time under
``nice -n 10`` with one torch thread; each writes its own file, so a killed run resumes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from deepad.bench import video_suite

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "video" / "ucsd_ped2"
OUT = ROOT / "docs" / "results" / "ped2_video"
PAGE = ROOT / "docs" / "results" / "ped2_video.md"
COMMAND = "python benchmarks/ped2_video.py report"


def report() -> str:
    return video_suite.write_report(OUT, page=PAGE, root=DATA, command=COMMAND)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run")
    one.add_argument("name", choices=video_suite.ORDER)
    every = sub.add_parser("all")
    every.add_argument("--only", nargs="*", choices=video_suite.ORDER)
    sub.add_parser("report")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.command == "run":
        path = OUT / f"{args.name}.json"
        if path.exists():
            print(f"{path} exists; delete it to rerun")
            return
        video_suite.run_one(args.name, OUT, root=DATA)
        print(f"{args.name} -> {path}")
    elif args.command == "all":
        for name in args.only or video_suite.DEFAULT_JOBS:
            if (OUT / f"{name}.json").exists():
                continue
            env = dict(os.environ, OMP_NUM_THREADS="1")
            subprocess.run(["nice", "-n", "10", sys.executable, __file__, "run", name],
                           check=False, env=env)
        print(report())
    else:
        print(report())


if __name__ == "__main__":
    main()
