"""CSR bus master for cocotb testbenches: registers by name, at the exported map's addresses."""

from cocotb.triggers import FallingEdge, RisingEdge

from hw.rtl.csr import WORD_BITS, RegisterMap

_MASK = (1 << WORD_BITS) - 1
_LATENCY = 3      # the bank acts three cycles after the strobe (hw/rtl/csr.py)


class CsrMaster:
    """Drives a design's `csr__*` ports (the CsrBus of hw/rtl/csr.py)."""

    def __init__(self, dut, regmap: RegisterMap):
        self.dut = dut
        self.regmap = regmap

    def idle(self) -> None:
        self.dut.csr__w_stb.value = 0
        self.dut.csr__r_stb.value = 0

    async def _access(self, address: int, strobe, data: int = 0) -> None:
        """One bus access: the strobe for one cycle, then the bank's latency."""
        await FallingEdge(self.dut.clk)
        self.dut.csr__addr.value = address
        self.dut.csr__w_data.value = data
        strobe.value = 1
        await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        strobe.value = 0
        for _ in range(_LATENCY - 1):
            await RisingEdge(self.dut.clk)
            await FallingEdge(self.dut.clk)

    async def write(self, name: str, value: int) -> None:
        """Word by word, least significant first (a wide rw register changes on the last)."""
        placed = self.regmap[name]
        for word in range(placed.register.words):
            await self._access(placed.address + word, self.dut.csr__w_stb,
                               (value >> (WORD_BITS * word)) & _MASK)

    async def read(self, name: str) -> int:
        """Word 0 first, which latches a wide read-only register: a consistent snapshot."""
        placed = self.regmap[name]
        value = 0
        for word in range(placed.register.words):
            await self._access(placed.address + word, self.dut.csr__r_stb)
            value |= self.dut.csr__r_data.value.to_unsigned() << (WORD_BITS * word)
        return value
