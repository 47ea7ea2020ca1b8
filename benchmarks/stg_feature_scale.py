"""The STG feature scale: SD of each pyloric feature over the pyloric networks among prior samples.

Usage (the numbers in usecases/stg.py came from this):
    sbi-neuro simulate stg --n 10000 --workers 2 --seed 7 --out runs/stg/prior
    .venv/bin/python benchmarks/stg_feature_scale.py runs/stg/prior
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from sbi_neuro.execution.bank import SimulationBank
from sbi_neuro.registry import get_usecase


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("bank_run", help="folder of `sbi-neuro simulate stg` (its bank/ is read)")
    args = parser.parse_args()
    uc = get_usecase("stg")
    columns = {"theta": uc.prior.names, "x": uc.features.names, "components": list(uc.cost.names)}
    data = SimulationBank(f"{args.bank_run}/bank", columns).load()
    valid = np.all(np.isfinite(data.x), axis=1)
    x = data.x[valid]
    print(f"{valid.sum()} of {len(valid)} prior simulations with defined features ({valid.mean():.2%})")
    scale = np.std(x, axis=0, ddof=1)
    for name, value, lo, hi in zip(uc.features.names, scale, x.min(0), x.max(0), strict=True):
        print(f"  {name:34s} SD {value:10.4g}   range {lo:9.4g} – {hi:9.4g}")
    print("FEATURE_SCALE = (" + ", ".join(f"{v:.4g}" for v in scale) + ")")
    print("counts of prior samples with failed simulations:", Counter(data.status.tolist()))


if __name__ == "__main__":
    main()
