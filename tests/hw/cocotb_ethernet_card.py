"""cocotb tests of the board's design (hw/tb/ethernet_card.py), run by
tests/hw/test_ethernet_card.py under Verilator: a feed's frames in at the RGMII receive pins,
each order's FIX bytes out at the RGMII transmit pins in a UDP datagram, against the golden
model's orders for the same feed.

The PHY side is cocotbext-eth's RGMII source and sink (preamble, SFD, FCS and DDR nibbles are
theirs). The host's part is the replay's plan (hw/tb/replay.py `prepare`, written to
plan.json): subscribe by name, read the slot map back, configure each symbol by the slot the
map gives, release; done here over the card's CSR port. The events stay in the card's queue
(a board's host pops them through the registers), so the run stays under its depth.

SendingTime (52) and TransactTime (60), and so CheckSum (10), come from the card's own clock,
which free-runs here while the model stamps each packet with its feed time: those three values
are compared as well-formed (CheckSum recomputed from the bytes) rather than equal. Every other
byte of every message must be the model's.
"""

import csv
import json
import logging
import os
import random
import re
from pathlib import Path

import cocotb
import dpkt
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, Timer, with_timeout
from cocotb.utils import get_time_from_sim_steps
from cocotbext.eth import GmiiFrame, RgmiiSink, RgmiiSource

from drivers.card import confirm, map_entry, map_reads
from hw.rtl.nic import REGMAP
from hw.tb.csr import CsrMaster
from hw.tb.ethernet_card import FAST_HZ
from hw.tb.replay import read_frames
from sw.fix.dictionary import split_messages

WORK = Path(os.environ.get("NERVE_BOARD_WORK", "."))
SEED = int(os.environ.get("NERVE_SEED", "1"))
GMII_NS = 8
FAST_NS = 1e9 / FAST_HZ
CARD = {"mac": bytes.fromhex("02004e525601"), "ip": "10.10.0.2", "port": 40000}
SESSION = {"mac": bytes.fromhex("02004e525602"), "ip": "10.10.0.9", "port": 40001}
TIME_FIELDS = re.compile(rb"\x01(52|60)=[^\x01]*")
CHECKSUM = re.compile(rb"10=(\d{3})\x01$")


def ip_int(text: str) -> int:
    return int.from_bytes(bytes(int(part) for part in text.split(".")), "big")


class TB:
    def __init__(self, dut):
        self.dut = dut
        self.csr = CsrMaster(dut, REGMAP)
        self.datagrams: list[bytes] = []
        self.sent_at: list[float] = []        # ns: each datagram's first preamble nibble
        self.slots: dict[str, int] = {}
        self.locates: dict[str, int] = {}
        cocotb.start_soon(Clock(dut.clk, FAST_NS, unit="ns").start())
        cocotb.start_soon(Clock(dut.eth_rx_clk, GMII_NS, unit="ns").start())
        cocotb.start_soon(Clock(dut.eth_tx_clk, GMII_NS, unit="ns").start())
        self.source = RgmiiSource(dut.rgmii_rx_data, dut.rgmii_rx_ctl, dut.eth_rx_clk)
        self.sink = RgmiiSink(dut.rgmii_tx_data, dut.rgmii_tx_ctl, dut.rgmii_tx_clk)
        for model in (self.source, self.sink):
            model.log.setLevel(logging.WARNING)

    async def reset(self):
        dut = self.dut
        resets = (dut.rst, dut.eth_rx_rst, dut.eth_tx_rst, dut.eth_tx90_rst)
        for rst in resets:
            rst.value = 1
        self.csr.idle()
        # The transmit clock pin's domain runs a quarter period (2 ns) after the data's.
        await Timer(GMII_NS // 4, unit="ns")
        cocotb.start_soon(Clock(dut.eth_tx90_clk, GMII_NS, unit="ns").start())
        for _ in range(4):
            await RisingEdge(dut.clk)
        for rst in resets:
            rst.value = 0
        await RisingEdge(dut.clk)
        while await self.csr.read("book_clearing"):     # the book's reset sweep
            await Timer(1, unit="us")
        cocotb.start_soon(self._receive())

    async def _receive(self):
        while True:
            frame = await self.sink.recv()
            assert frame.check_fcs(), "a datagram left with a bad FCS"
            assert not any(frame.error or []), "a datagram left with TX_ER"
            self.datagrams.append(bytes(frame.get_payload()))
            self.sent_at.append(get_time_from_sim_steps(frame.sim_time_start, "ns"))

    async def configure_port(self):
        for name, value in (("eth_mac", int.from_bytes(CARD["mac"], "big")),
                            ("eth_ip", ip_int(CARD["ip"])), ("eth_port", CARD["port"]),
                            ("eth_session_mac", int.from_bytes(SESSION["mac"], "big")),
                            ("eth_session_ip", ip_int(SESSION["ip"])),
                            ("eth_session_port", SESSION["port"])):
            await self.csr.write(name, value)

    # --- the host's plan (hw/tb/replay.py), over the CSR port ------------------------------
    async def run(self, ops, slot: int = 0):
        for op in ops:
            kind = op[0]
            if kind == "write" and op[1] == "event_dma":
                continue            # a board's host pops events through the registers
            if kind == "write":
                await self.csr.write(op[1], op[2])
            elif kind == "write_slot":
                await self.csr.write(op[1], op[2] | slot)
            elif kind == "wait_clear":
                while await self.csr.read(op[1]):
                    pass
            elif kind == "sync":
                await self.sync(op[1], op[2])
            elif kind == "release":
                await self.sync(self.locates, {})
                await self.csr.write("risk_halt", 0)
            elif kind == "symbol":
                if op[1] in self.slots:
                    await self.run(op[2], self.slots[op[1]])
            else:
                raise AssertionError(f"the plan has an op this test does not make: {op}")

    async def sync(self, locates: dict, configure: dict):
        self.locates = locates
        entries = []
        for slot in range(await self.csr.read("book_slots_used")):
            values = []
            for op, name, value in map_reads(slot):
                if op == "write":
                    await self.csr.write(name, value)
                else:
                    values.append(await self.csr.read(name))
            entries.append(map_entry(slot, *values))
        slots, wrong = confirm(locates, entries)
        assert not wrong, wrong
        for symbol, slot in slots.items():
            if symbol not in self.slots and symbol in configure:
                self.slots[symbol] = slot
                await self.run(configure[symbol], slot)

    async def settle(self, cycles: int = 400):
        """Until the source has sent everything and the card has had time to answer."""
        await self.source.wait()
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)


def corrupted(frame: bytes, rng: random.Random) -> GmiiFrame:
    """The frame with one bit flipped after its FCS was computed: a CRC error on the wire."""
    wire = bytearray(GmiiFrame.from_payload(frame).data)
    bit = rng.randrange(8 * 8, 8 * (len(wire) - 4))       # after the preamble and SFD
    wire[bit // 8] ^= 1 << (bit % 8)
    return GmiiFrame(wire)


async def replay(dut, *, damage: bool):
    tb = TB(dut)
    await tb.reset()
    plan = json.loads((WORK / "rtl" / "plan.json").read_text())
    frames = read_frames(WORK / "rtl" / "frames.bin")
    await tb.configure_port()
    await tb.run(plan["setup"])
    rng = random.Random(SEED)
    bad = {"crc": 0, "runt": 0, "fragment": 0}
    ended: dict[int, int] = {}       # packet -> sim step of its good frame's last nibble
    for n, (_, frame) in enumerate(frames):
        if str(n) in plan["actions"]:
            await tb.settle()
            await tb.run(plan["actions"][str(n)])
        if damage and rng.random() < 0.1:
            # A damaged copy first: if the MAC let it through, the feed's sequence (or the
            # book) would move and the orders would no longer be the model's.
            await tb.source.send(corrupted(frame, rng))
            bad["crc"] += 1
        if damage and rng.random() < 0.05:
            # Cut short, no FCS: a runt, or a fragment when 4 bytes or fewer follow the SFD.
            cut = rng.randrange(1, 50)
            await tb.source.send(GmiiFrame.from_raw_payload(frame[:cut]))
            bad["runt" if cut > 4 else "fragment"] += 1
        # The source sends a copy, which reports its end through the callback.
        await tb.source.send(GmiiFrame.from_payload(
            frame, tx_complete=lambda sent, n=n: ended.__setitem__(n, sent.sim_time_end)))
    await tb.settle()
    await tb.run(plan["after"])
    expected = split_messages((WORK / "model" / "orders.fix").read_bytes())
    await with_timeout(wait_for(tb, len(expected)), 2_000, "us")
    await tb.settle(2000)
    check_datagrams(tb.datagrams, expected)

    registers = {name: await tb.csr.read(f"eth_{name}")
                 for name in ("rx_frames", "rx_crc_errors", "rx_runts", "rx_giants",
                              "rx_phy_errors", "rx_overflows", "rx_fragments", "tx_datagrams",
                              "tx_underruns")}
    assert registers == {"rx_frames": len(frames), "rx_crc_errors": bad["crc"],
                         "rx_runts": bad["runt"], "rx_giants": 0, "rx_phy_errors": 0,
                         "rx_overflows": 0, "rx_fragments": bad["fragment"],
                         "tx_datagrams": len(expected),
                         "tx_underruns": 0}, registers
    assert await tb.csr.read("event_overflow") == 0
    assert int(dut.link.value) == 1 and int(dut.halted.value) == 0
    if not damage:
        write_wire_to_wire(tb, ended)
    return bad


def write_wire_to_wire(tb: TB, ended: dict[int, int]) -> None:
    """Each strategy order's time from the last nibble of the frame that caused it at the
    receive pins to the first nibble of its datagram at the transmit pins (ns), for the
    benchmark (bench/board.py). One message per packet: the order's message index is its
    packet's number."""
    with (WORK / "model" / "orders.csv").open() as f:
        orders = list(csv.DictReader(f))
    ns = [round(sent - get_time_from_sim_steps(ended[int(o["msg_index"])], "ns"), 1)
          for o, sent in zip(orders, tb.sent_at, strict=True) if o["cause"] == "strategy"]
    assert ns and min(ns) > 0
    (WORK / "wire_to_wire.json").write_text(json.dumps({"ns": ns, "fast_hz": FAST_HZ}))
    tb.dut._log.info("wire to wire: %d strategy orders, min %.1f ns, median %.1f ns, "
                     "max %.1f ns", len(ns), min(ns), sorted(ns)[len(ns) // 2], max(ns))


async def wait_for(tb: TB, count: int):
    while len(tb.datagrams) < count:
        await RisingEdge(tb.dut.clk)


def check_datagrams(datagrams: list[bytes], expected: list[bytes]) -> None:
    assert len(datagrams) == len(expected), f"{len(datagrams)} datagrams, {len(expected)} orders"
    for ip_id, (frame, want) in enumerate(zip(datagrams, expected, strict=True)):
        eth = dpkt.ethernet.Ethernet(frame)
        assert (eth.dst, eth.src, eth.type) == (SESSION["mac"], CARD["mac"], 0x0800)
        ip = eth.data
        assert isinstance(ip, dpkt.ip.IP) and ip.p == dpkt.ip.IP_PROTO_UDP
        assert (ip.src, ip.dst) == (bytes(map(int, CARD["ip"].split("."))),
                                    bytes(map(int, SESSION["ip"].split("."))))
        header = frame[14:34]
        assert sum(int.from_bytes(header[i:i + 2], "big") for i in range(0, 20, 2)) \
            % 0xFFFF == 0, "IPv4 header checksum"
        assert ip.id == ip_id and ip.off == 0x4000 and ip.ttl == 64
        udp = ip.data
        assert (udp.sport, udp.dport, udp.sum) == (CARD["port"], SESSION["port"], 0)
        got = bytes(udp.data)
        assert ip.len == 28 + len(got) and udp.ulen == 8 + len(got)
        assert len(frame) == max(14 + ip.len, 60)      # the MAC pads short frames to 60
        checksum = CHECKSUM.search(got)
        assert checksum and int(checksum.group(1)) == sum(got[:checksum.start()]) % 256
        assert TIME_FIELDS.sub(b"", got[:checksum.start()]) == \
            TIME_FIELDS.sub(b"", want[:CHECKSUM.search(want).start()])
        assert [len(t) for t in TIME_FIELDS.findall(got)] == \
            [len(t) for t in TIME_FIELDS.findall(want)]


@cocotb.test()
async def a_feed_in_at_the_pins_gives_the_models_orders_at_the_pins(dut):
    await replay(dut, damage=False)


@cocotb.test()
async def damaged_frames_are_dropped_counted_and_change_nothing(dut):
    bad = await replay(dut, damage=True)
    assert bad["crc"] > 0 and bad["runt"] > 0 and bad["fragment"] > 0
