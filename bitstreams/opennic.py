"""The smart-NIC target: writes an OpenNIC shell user plugin directory with the card in box_322mhz.

    python bitstreams/opennic.py --out DIR [--capacity default|middle|board] [--time-step N]

DIR is what the shell's build script takes as `-user_plugin DIR` (Xilinx/open-nic-shell,
README "User Plugin Integration"). It holds:

    box_322mhz/nerve_box_322mhz.v            the OpenNicBox (hw/rtl/opennic_box.py) as Verilog
    box_322mhz/nerve_opennic_322mhz.v        the wrapper with box_322mhz's port names: the fast
                                             clock (clocking wizard MMCM), reset synchronisers
    box_322mhz/user_plugin_322mhz_inst.vh    the wrapper's instantiation, included by the box
    box_322mhz/box_322mhz_address_map*.v(h)  no crossbar: the box's whole window is the card's
    box_322mhz/box_322mhz_axi_crossbar.tcl   (no IP to create)
    build_box_322mhz.tcl                     read by the shell's build: sources, MMCM, XDC
    nerve_opennic.xdc                        clock crossings
    vivado_project.tcl                       an out-of-context project of the box alone
    regmap.json                              the card's registers (byte address = 4 * word)
    README.md                                what is and is not verified

box_250mhz is not written: the shell's default p2p plugin serves it (copy plugin/p2p's
box_250mhz and build_box_250mhz.tcl into DIR, as the shell's README says for one-box plugins).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hw.rtl.capacity import CAPACITIES, DEFAULT, Capacity  # noqa: E402

#: The generated module's and the wrapper's names.
BOX_MODULE = "nerve_box_322mhz"
WRAPPER_MODULE = "nerve_opennic_322mhz"
#: The clocking wizard IP that makes the fast clock.
CLOCK_IP = "nerve_fast_clk"
#: The shell's register clock, the MMCM's input (MHz), and the fast path's base clock.
AXIL_MHZ = 125.0
BASE_FAST_MHZ = 156.25
#: The part the standalone project targets (an Alveo U250's); the shell's build sets its own.
DEFAULT_PART = "xcu250-figd2104-2L-e"

STREAM_FIELDS = (("tvalid", 1), ("tdata", 512), ("tkeep", 64), ("tlast", 1), ("tuser_err", 1))
AXIL_PORTS = (("awvalid", 1, "in"), ("awaddr", 32, "in"), ("awready", 1, "out"),
              ("wvalid", 1, "in"), ("wdata", 32, "in"), ("wready", 1, "out"),
              ("bvalid", 1, "out"), ("bresp", 2, "out"), ("bready", 1, "in"),
              ("arvalid", 1, "in"), ("araddr", 32, "in"), ("arready", 1, "out"),
              ("rvalid", 1, "out"), ("rdata", 32, "out"), ("rresp", 2, "out"),
              ("rready", 1, "in"))


def box_ports() -> list[tuple[str, int, str]]:
    """The box's data ports by the shell's names (one CMAC port): (name, width, in|out)."""
    ports = [(f"s_axil_{name}", width, d) for name, width, d in AXIL_PORTS]
    for prefix, direction, ready in (("s_axis_adap_tx_322mhz", "in", True),
                                     ("m_axis_adap_rx_322mhz", "out", False),
                                     ("m_axis_cmac_tx", "out", True),
                                     ("s_axis_cmac_rx", "in", False)):
        back = "out" if direction == "in" else "in"
        ports += [(f"{prefix}_{name}", width, direction) for name, width in STREAM_FIELDS]
        if ready:
            ports.append((f"{prefix}_tready", 1, back))
    return ports


def time_step_mhz(time_step: int) -> float:
    if not isinstance(time_step, int) or not 1 <= time_step <= 16:
        raise ValueError(f"time_step must be 1..16, not {time_step!r}")
    return BASE_FAST_MHZ / time_step


def box_verilog(capacity: Capacity, time_step: int) -> str:
    from amaranth.back import verilog

    from hw.rtl.opennic_box import OpenNicBox
    from hw.rtl.toplevel import top_ports

    design = OpenNicBox(capacity=capacity, time_step=time_step,
                        uart_divisor=round(time_step_mhz(time_step) * 1e6 / 115_200))
    return verilog.convert(design, name=BOX_MODULE, emit_src=False, ports=top_ports(design))


def _decl(width: int) -> str:
    return f"[{width - 1}:0] " if width > 1 else ""


def wrapper_verilog() -> str:
    ports = box_ports()
    lines = [
        "// The card in the OpenNIC shell's box_322mhz (one CMAC port). Written by",
        "// bitstreams/opennic.py: do not edit. The fast path's clock comes from the shell's",
        f"// {AXIL_MHZ:g} MHz register clock through a clocking wizard MMCM ({CLOCK_IP}). Each",
        "// domain's reset is asserted at once and released two edges after mod_rstn and the",
        "// MMCM's lock, in its own clock.",
        "`timescale 1ns/1ps",
        "`default_nettype none",
        f"module {WRAPPER_MODULE} (",
    ]
    decls = [f"  {'input ' if d == 'in' else 'output'} wire {_decl(w)}{name}"
             for name, w, d in ports]
    decls += ["  input  wire mod_rstn", "  output wire mod_rst_done",
              "  input  wire axil_aclk", "  input  wire cmac_clk"]
    lines.append(",\n".join(decls))
    lines += [
        ");",
        "  wire fast_clk;",
        "  wire locked;",
        f"  {CLOCK_IP} fast_clk_inst (",
        "    .clk_in1  (axil_aclk),",
        "    .reset    (~mod_rstn),",
        "    .clk_out1 (fast_clk),",
        "    .locked   (locked)",
        "  );",
        "",
        "  wire release_n = mod_rstn & locked;",
    ]
    for domain, clock in (("axil", "axil_aclk"), ("cmac", "cmac_clk"), ("fast", "fast_clk")):
        lines += [
            f"  (* ASYNC_REG = \"TRUE\" *) reg [1:0] {domain}_rst_sync = 2'b11;",
            f"  always @(posedge {clock} or negedge release_n)",
            f"    if (!release_n) {domain}_rst_sync <= 2'b11;",
            f"    else {domain}_rst_sync <= {{{domain}_rst_sync[0], 1'b0}};",
            f"  wire {domain}_rst = {domain}_rst_sync[1];",
        ]
    lines += [
        "  assign mod_rst_done = ~axil_rst;",
        "",
        "  /* verilator lint_off PINCONNECTEMPTY */",
        f"  {BOX_MODULE} box (",
        "    .clk      (fast_clk),",
        "    .rst      (fast_rst),",
        "    .cmac_clk (cmac_clk),",
        "    .cmac_rst (cmac_rst),",
        "    .axil_clk (axil_aclk),",
        "    .axil_rst (axil_rst),",
        "    .halted   (),",
        "    .stale    (),",
    ]
    lines.append(",\n".join(f"    .{name} ({name})" for name, _, _ in ports))
    lines += ["  );", "  /* verilator lint_on PINCONNECTEMPTY */", "endmodule",
              "`default_nettype wire", ""]
    return "\n".join(lines)


def clock_stub_verilog() -> str:
    """A behavioural stand-in for the clocking wizard, for linting and simulation only."""
    return "\n".join([
        "// Lint/simulation stand-in for the clocking wizard IP: not for synthesis.",
        "`timescale 1ns/1ps",
        f"module {CLOCK_IP} (input wire clk_in1, input wire reset, output wire clk_out1,",
        "                   output wire locked);",
        "  assign clk_out1 = clk_in1;",
        "  assign locked = ~reset;",
        "endmodule", ""])


def plugin_inst() -> str:
    lines = [
        "// Included into box_322mhz (src/box_322mhz/box_322mhz.sv of open-nic-shell).",
        "// Written by bitstreams/opennic.py. One CMAC port: NUM_CMAC_PORT must be 1.",
        "localparam C_NUM_USER_BLOCK = 1;",
        "assign mod_rst_done[7:C_NUM_USER_BLOCK] = {(8-C_NUM_USER_BLOCK){1'b1}};",
        "",
        f"{WRAPPER_MODULE} nerve_inst (",
    ]
    names = [name for name, _, _ in box_ports()]
    conns = [f"  .{name:<32} ({name})" for name in names]
    conns += [f"  .{'mod_rstn':<32} (mod_rstn[0])", f"  .{'mod_rst_done':<32} (mod_rst_done[0])",
              f"  .{'axil_aclk':<32} (axil_aclk)", f"  .{'cmac_clk':<32} (cmac_clk)"]
    lines.append(",\n".join(conns))
    lines += [");", ""]
    return "\n".join(lines)


ADDRESS_MAP_INST = """\
// Written by bitstreams/opennic.py. No address map: the box's whole register window belongs to
// the card (its 256 KB map repeats through the box's 1 MB), so s_axil_* go straight to the
// card's wrapper (user_plugin_322mhz_inst.vh) and no crossbar is instantiated.
"""

ADDRESS_MAP = """\
// Written by bitstreams/opennic.py. The shell's build reads this file; the card's box has no
// crossbar, so this module is not instantiated (box_322mhz_address_map_inst.vh is empty).
`timescale 1ns/1ps
module box_322mhz_address_map_unused;
endmodule
"""

CROSSBAR_TCL = """\
# Written by bitstreams/opennic.py. The shell's build sources this file; the card's box has no
# crossbar (the whole window is the card's), so there is no IP to create.
"""


def build_tcl(fast_mhz: float) -> str:
    return f"""\
# Written by bitstreams/opennic.py. Sourced by the open-nic-shell build after the box's
# address map; adds the card's sources, its fast clock's MMCM and its constraints.
set nerve_dir [file normalize [file dirname [info script]]]
read_verilog -quiet [list \\
    $nerve_dir/box_322mhz/{BOX_MODULE}.v \\
    $nerve_dir/box_322mhz/{WRAPPER_MODULE}.v]
source $nerve_dir/nerve_fast_clk.tcl
read_xdc $nerve_dir/nerve_opennic.xdc
"""


def clock_tcl(fast_mhz: float) -> str:
    return f"""\
# Written by bitstreams/opennic.py. The fast path's clock: {fast_mhz:g} MHz from the shell's
# {AXIL_MHZ:g} MHz axil_aclk by an MMCM (MMCME4_ADV on UltraScale+). The wizard chooses the
# dividers; for 156.25 MHz expect DIVCLK 1, CLKFBOUT_MULT_F 10 (VCO 1250 MHz), CLKOUT0 8.
# Not run here: check the wizard's report (jitter, VCO range) in Vivado.
create_ip -name clk_wiz -vendor xilinx.com -library ip -module_name {CLOCK_IP}
set_property -dict [list \\
    CONFIG.PRIMITIVE {{MMCM}} \\
    CONFIG.PRIM_IN_FREQ {{{AXIL_MHZ:.3f}}} \\
    CONFIG.PRIM_SOURCE {{No_buffer}} \\
    CONFIG.CLKOUT1_REQUESTED_OUT_FREQ {{{fast_mhz:.3f}}} \\
    CONFIG.USE_LOCKED {{true}} \\
    CONFIG.USE_RESET {{true}} \\
    CONFIG.RESET_TYPE {{ACTIVE_HIGH}} \\
] [get_ips {CLOCK_IP}]
generate_target all [get_ips {CLOCK_IP}]
"""


def xdc(fast_mhz: float) -> str:
    fast_ns = 1000 / fast_mhz
    return f"""\
# Written by bitstreams/opennic.py. The card's three clocks: cmac_clk (~322 MHz, the box's),
# axil_aclk ({AXIL_MHZ:g} MHz, the shell's registers) and the MMCM's fast clock
# ({fast_mhz:g} MHz, {fast_ns:.3f} ns). Every path between them goes through a synchroniser:
# two-flop synchronisers on one-bit toggles (AxiLiteCrossing, PulseSynchronizer) whose data
# words are held stable while the toggle crosses, and Gray-coded pointers in the async FIFOs.
# Those paths are bounded, not cut: a max delay (datapath only) of the faster clock's period
# keeps each held word's path shorter than its toggle's two synchroniser stages. Vivado gives
# set_clock_groups precedence over set_max_delay, so the asynchronous clock groups, which
# would hide these paths from timing altogether, are left as the commented alternative.
set nerve_cmac [get_clocks -of_objects [get_pins -hier -filter {{NAME =~ */nerve_inst/cmac_clk}}]]
set nerve_axil [get_clocks -of_objects [get_pins -hier -filter {{NAME =~ */nerve_inst/axil_aclk}}]]
set nerve_fast [get_clocks -of_objects [get_pins -hier -filter {{NAME =~ */nerve_inst/box/clk}}]]
foreach {{from to ns}} [list \\
    $nerve_axil $nerve_fast {fast_ns:.3f} $nerve_fast $nerve_axil {fast_ns:.3f} \\
    $nerve_cmac $nerve_fast 3.100 $nerve_fast $nerve_cmac 3.100 \\
    $nerve_cmac $nerve_axil 3.100 $nerve_axil $nerve_cmac 3.100] {{
    set_max_delay -datapath_only -from $from -to $to $ns
}}
# The alternative (no timing at all on the crossings):
# set_clock_groups -asynchronous -group $nerve_cmac -group $nerve_axil -group $nerve_fast
# The reset synchronisers' first flops (wrapper) are asynchronous by design.
set_false_path -to [get_pins -hier -filter {{NAME =~ */nerve_inst/*_rst_sync_reg[*]/PRE}}]
"""


def project_tcl(part: str, fast_mhz: float) -> str:
    return f"""\
# Written by bitstreams/opennic.py. The card's box alone, out of context, for utilisation and
# timing before the shell is built around it:  vivado -mode batch -source vivado_project.tcl
set nerve_dir [file normalize [file dirname [info script]]]
create_project -force nerve_opennic $nerve_dir/vivado -part {part}
add_files [list $nerve_dir/box_322mhz/{BOX_MODULE}.v $nerve_dir/box_322mhz/{WRAPPER_MODULE}.v]
source $nerve_dir/nerve_fast_clk.tcl
set_property top {WRAPPER_MODULE} [current_fileset]
# Out of context the clocks are the wrapper's ports.
set ooc [open $nerve_dir/vivado/ooc.xdc w]
puts $ooc "create_clock -name cmac_clk -period 3.103 \\[get_ports cmac_clk\\]"
puts $ooc "create_clock -name axil_aclk -period 8.000 \\[get_ports axil_aclk\\]"
puts $ooc "set_clock_groups -asynchronous -group cmac_clk -group axil_aclk"
close $ooc
add_files -fileset constrs_1 $nerve_dir/vivado/ooc.xdc
set_property USED_IN {{synthesis implementation out_of_context}} [get_files ooc.xdc]
synth_design -top {WRAPPER_MODULE} -mode out_of_context -part {part}
report_utilization -file $nerve_dir/vivado/utilization.txt
report_timing_summary -file $nerve_dir/vivado/timing.txt
"""


def readme(capacity: Capacity, time_step: int, fast_mhz: float) -> str:
    return f"""\
# Nerve in the OpenNIC shell (box_322mhz)

Written by `bitstreams/opennic.py` (capacity `{capacity.name}`, fast path {fast_mhz:g} MHz,
`time_step` {time_step}). Build the shell with `-user_plugin <this directory>` and
`-num_cmac_port 1`; box_250mhz must come from the shell's default p2p plugin (copy its
`box_250mhz/` and `build_box_250mhz.tcl` here).

Data flow: CMAC rx -> adapter rx unchanged, and a copy -> the card (512 -> 64-bit, async FIFO,
store-and-forward, Nic); the card's datagrams -> (64 -> 512-bit, whole frames) -> CMAC tx,
sharing it with the adapter's frames at frame boundaries (the card's first). Registers: the
Nic's map (`regmap.json`) at BAR2 0x200000 + 4 * word address (the 256 KB map repeats through
the box's 1 MB window). Counters `eth_rx_frames`, `eth_rx_crc_errors` (tuser_err),
`eth_rx_overflows` (frames dropped for room), `eth_tx_datagrams`.

## Verified in the repository

- The box elaborates and converts to Verilog (`{BOX_MODULE}.v`).
- `verilator --lint-only -Wall` passes on the box's Verilog and on the wrapper with a
  behavioural stand-in for the clocking wizard (tests/bitstreams/test_opennic.py; the -Wno
  flags it needs are listed there, each for Amaranth's generated style).
- cocotb + Verilator simulation of the box, at capacity `board`, with the three clocks
  (tests/hw/test_opennic_box.py): registers through `s_axil_*`, received frames counted good
  and bad (tuser_err), host traffic passing both ways under backpressure; the width converters
  and the register crossing in the Amaranth simulator (tests/hw/test_axis_width.py,
  tests/hw/test_axil_crossing.py).

## Not verified (no Vivado, no board, no network here)

- Vivado synthesis, implementation and timing on a real part: whether the card meets
  {fast_mhz:g} MHz, and the 512-bit paths 322 MHz, is unknown.
- The shell's exact port list and plugin rules were read from open-nic-shell's
  `src/box_322mhz/box_322mhz.sv` and README as stored in a snapshot of the public repository;
  they were not checked against the shell version you build, nor built.
- The clocking wizard's settings and its port names (`clk_in1`, `reset`, `clk_out1`, `locked`),
  the MMCM's VCO range and jitter; that axil_aclk is a suitable MMCM input.
- The XDC: the object queries (`*/nerve_inst/...`) and the constraint precedence are written
  from Vivado's documented behaviour, never run.
- Whether the CMAC strips the FCS and how it reports runts/giants on tuser_err (the card
  counts every tuser_err frame as `eth_rx_crc_errors`).
"""


def write_plugin(out: Path, capacity: Capacity = DEFAULT, time_step: int = 1,
                 part: str = DEFAULT_PART) -> list[Path]:
    """Write the plugin directory; returns the files written."""
    from hw.rtl.nic import REGMAP

    fast_mhz = time_step_mhz(time_step)
    box = out / "box_322mhz"
    box.mkdir(parents=True, exist_ok=True)
    files = {
        box / f"{BOX_MODULE}.v": box_verilog(capacity, time_step),
        box / f"{WRAPPER_MODULE}.v": wrapper_verilog(),
        box / "user_plugin_322mhz_inst.vh": plugin_inst(),
        box / "box_322mhz_address_map_inst.vh": ADDRESS_MAP_INST,
        box / "box_322mhz_address_map.v": ADDRESS_MAP,
        box / "box_322mhz_axi_crossbar.tcl": CROSSBAR_TCL,
        out / "build_box_322mhz.tcl": build_tcl(fast_mhz),
        out / "nerve_fast_clk.tcl": clock_tcl(fast_mhz),
        out / "nerve_opennic.xdc": xdc(fast_mhz),
        out / "vivado_project.tcl": project_tcl(part, fast_mhz),
        out / "regmap.json": json.dumps(REGMAP.as_dict(), indent=1) + "\n",
        out / "README.md": readme(capacity, time_step, fast_mhz),
    }
    for path, text in files.items():
        path.write_text(text)
    return list(files)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the plugin directory")
    parser.add_argument("--capacity", choices=sorted(CAPACITIES), default=DEFAULT.name)
    parser.add_argument("--time-step", type=int, default=1,
                        help=f"fast clock = {BASE_FAST_MHZ:g} MHz / N (1..16)")
    parser.add_argument("--part", default=DEFAULT_PART, help="for vivado_project.tcl")
    args = parser.parse_args(argv)
    files = write_plugin(args.out, CAPACITIES[args.capacity], args.time_step, args.part)
    for path in files:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
