"""The exported register map: the committed docs table is current, and every format agrees."""

import json
from pathlib import Path

from hw.rtl.nic import REGMAP
from sw.cli.main import main, regmap_text

ROOT = Path(__file__).resolve().parents[2]


def test_docs_table_is_generated_from_the_rtl():
    assert (ROOT / "docs" / "registers.md").read_text() == regmap_text("md"), \
        "run: nerve regmap --format md --out docs/registers.md"


def test_cli_writes_each_format(tmp_path, capsys):
    for fmt in ("md", "json", "c"):
        assert main(["regmap", "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
        assert (tmp_path / fmt).read_text() == regmap_text(fmt)
    data = json.loads((tmp_path / "json").read_text())
    assert {r["name"] for r in data["registers"]} == {p.name for p in REGMAP.placed}
    assert "net_dst_ip" in (tmp_path / "c").read_text().lower()
