"""The layering of the card's code: hw/rtl and sw/model meet only in spec/ (the contract).

hw/rtl imports no host code (sw.*, drivers.*) and sw/model no hardware code (hw.*, drivers.*);
spec/ imports neither side. The RTL's simulator build cache (hw/tb/sim.py `rtl_sources`) hashes
hw/rtl and spec/ alone, which is correct only while this holds.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from hw.tb.sim import rtl_sources

ROOT = Path(__file__).resolve().parents[2]
#: Package directory -> top-level packages its modules may not import.
FORBIDDEN = {
    "hw/rtl": ("sw", "drivers"),
    "sw/model": ("hw", "drivers"),
    "spec": ("hw", "sw", "drivers"),
}


def imported_modules(source: str) -> set[str]:
    """Every absolute module an `import` or `from ... import` names, at any depth (a function's
    deferred import counts as much as the module's own)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_imported_modules_sees_every_form():
    source = ("import a.b\nfrom c import d\nfrom . import local\n"
              "def f():\n    from sw.model import config\n")
    assert imported_modules(source) == {"a.b", "c", "c.d", "sw.model", "sw.model.config"}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_module_imports_across_the_contract(package):
    forbidden = FORBIDDEN[package]
    crossings = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in imported_modules(path.read_text()):
            if name.split(".")[0] in forbidden:
                crossings.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not crossings, "\n".join(crossings)


@pytest.mark.parametrize(("modules", "absent"), [
    (["hw.rtl.nic"], ("sw", "drivers")),                          # the whole card
    ([f"sw.model.{p.stem}" for p in sorted((ROOT / "sw" / "model").glob("*.py"))
      if p.stem != "__init__"], ("hw", "drivers")),
    (["spec.bounds", "spec.codes", "spec.clock", "spec.fix", "spec.itch"],
     ("hw", "sw", "drivers")),
], ids=["hw.rtl", "sw.model", "spec"])
def test_nothing_across_the_contract_is_loaded(modules, absent):
    """Transitively too: a fresh interpreter that imports one side loads nothing of the other."""
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(absent)!r}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_rtl_build_cache_hashes_what_the_rtl_is_made_of():
    sources = {path.relative_to(ROOT).parent.as_posix() for path in rtl_sources()}
    assert sources == {"hw/rtl", "spec"}
