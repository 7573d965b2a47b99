# amaranth: UnusedElaboratable=no
# (the constructor tests make boxes only to see their arguments refused)

"""The OpenNIC plugin directory (bitstreams/opennic.py): every file the shell's build reads is
written, the wrapper has box_322mhz's ports and the include instantiates it by them, and the
Verilog (box, wrapper, a stand-in for the clocking wizard) passes `verilator --lint-only -Wall`
with the flags below."""

import re
import subprocess

import pytest

from bitstreams import opennic
from hw.rtl.capacity import BOARD
from hw.rtl.opennic_box import OpenNicBox
from hw.tb.sim import _toolchain_env

#: Warnings Amaranth's generated Verilog raises by its style, not by a fault of the design:
#: unused bits of records and memories, width changes it leaves to Verilog's rules, the
#: initial values it gives process variables, case statements without default (every case
#: assigns first), comparisons against constants, priority `casez` (first match wins, by
#: Verilog's rules), one file holding many modules, and the asynchronous reset of the async
#: FIFOs' reset synchronisers (the domain's reset used as an asynchronous set: by design).
LINT_WAIVERS = ("UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC", "PROCASSINIT", "CASEINCOMPLETE",
                "UNSIGNED", "CMPCONST", "CASEOVERLAP", "DECLFILENAME", "SYNCASYNCNET")


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    out = tmp_path_factory.mktemp("opennic")
    files = opennic.write_plugin(out, BOARD)
    return out, files


def test_every_file_the_shell_build_reads_is_written(plugin):
    out, files = plugin
    box = out / "box_322mhz"
    for path in (box / "user_plugin_322mhz_inst.vh", box / "box_322mhz_address_map_inst.vh",
                 box / "box_322mhz_address_map.v", box / "box_322mhz_axi_crossbar.tcl",
                 out / "build_box_322mhz.tcl", out / "nerve_opennic.xdc",
                 out / "vivado_project.tcl", out / "nerve_fast_clk.tcl", out / "README.md",
                 box / f"{opennic.BOX_MODULE}.v", box / f"{opennic.WRAPPER_MODULE}.v"):
        assert path in files and path.stat().st_size > 0, path
    readme = (out / "README.md").read_text()
    assert "## Not verified" in readme and "Vivado synthesis" in readme


def test_the_wrapper_has_the_shells_ports_and_the_include_names_them(plugin):
    out, _ = plugin
    box = out / "box_322mhz"
    wrapper = (box / f"{opennic.WRAPPER_MODULE}.v").read_text()
    declared = set(re.findall(r"^\s*(?:input|output)\s+wire\s+(?:\[\d+:0\]\s+)?(\w+)",
                              wrapper, re.M))
    shell = {name for name, _, _ in opennic.box_ports()}
    assert declared == shell | {"mod_rstn", "mod_rst_done", "axil_aclk", "cmac_clk"}
    assert {"s_axil_awaddr", "m_axis_cmac_tx_tready", "s_axis_cmac_rx_tuser_err"} <= shell
    assert "s_axis_cmac_rx_tready" not in shell and "m_axis_adap_rx_322mhz_tready" not in shell
    inst = (box / "user_plugin_322mhz_inst.vh").read_text()
    assert set(re.findall(r"^\s*\.(\w+)\s", inst, re.M)) == declared
    generated = (box / f"{opennic.BOX_MODULE}.v").read_text()
    header = generated[generated.index(f"module {opennic.BOX_MODULE}("):]
    header = header[:header.index(");")]
    assert shell <= set(re.findall(r"\w+", header))


def test_the_verilog_lints_clean(plugin, tmp_path):
    out, _ = plugin
    _toolchain_env()
    stub = tmp_path / "clock_stub.v"
    stub.write_text(opennic.clock_stub_verilog())
    box = out / "box_322mhz"
    result = subprocess.run(
        ["verilator", "--lint-only", "-Wall", *(f"-Wno-{w}" for w in LINT_WAIVERS),
         "--top-module", opennic.WRAPPER_MODULE, str(stub),
         str(box / f"{opennic.WRAPPER_MODULE}.v"), str(box / f"{opennic.BOX_MODULE}.v")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def test_arguments_are_validated():
    with pytest.raises(ValueError, match="time_step must be 1..16"):
        opennic.time_step_mhz(0)
    with pytest.raises(ValueError, match="time_step must be 1..16"):
        OpenNicBox(time_step=17)
    with pytest.raises(TypeError, match="capacity must be a hw.rtl.capacity.Capacity"):
        OpenNicBox(capacity="board")
