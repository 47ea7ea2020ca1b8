import json
from pathlib import Path

import pytest

from simulators.errors import DataError
from simulators.morphology import instantiate, load_geometry_json, set_nseg_d_lambda, total_area_um2


@pytest.mark.parametrize(
    ("folder", "area", "sections"),
    [("uc3_ca1_passive", 12_416.8, 144), ("uc6_ca1_detailed", 19_187.7, 164)],
)
def test_geometry_json_reproduces_the_original_area(
    data_dir: Path, folder: str, area: float, sections: int
) -> None:
    morph = load_geometry_json(data_dir / "neuroptimus" / folder / "morphology.geometry.json")
    built = instantiate(morph, prefix=f"test_{folder}_")
    assert len(built) == sections
    assert total_area_um2(built) == pytest.approx(area, abs=0.1)
    for sec in built.values():
        sec.Ra, sec.cm = 100.0, 1.0
    assert set_nseg_d_lambda(built, d_lambda=0.1) > sections  # finer than one segment per section
    assert all(sec.nseg % 2 == 1 for sec in built.values())


def test_malformed_geometry_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"sections": [{"name": "soma", "parent": None}]}))
    with pytest.raises(DataError, match=str(bad)):
        load_geometry_json(bad)
    with pytest.raises(DataError, match="does not exist"):
        load_geometry_json(tmp_path / "missing.json")
