"""`make data`: the committed real-text files are exactly what the generator makes from ../shared."""

import pytest

from bench.real_text import OUTPUTS, ROOT, SOURCE, write_all


@pytest.mark.skipif(not (SOURCE / "banking77_train.csv").exists(), reason=f"no shared real-text data at {SOURCE}")
def test_committed_files_are_what_make_data_writes(tmp_path):
    counts = write_all(SOURCE, tmp_path)
    for name in OUTPUTS:
        assert (tmp_path / name).read_text(encoding="utf-8") == (ROOT / name).read_text(encoding="utf-8"), (
            f"{name} differs from a fresh `make data`: run it and commit the result")
    assert counts["tests/data/real_slice_banking77.yml"] > 850  # 20 % of the 4,507 mapped rows
