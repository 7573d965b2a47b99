"""CSR bus master for cocotb testbenches: registers by name, at the exported map's addresses."""

from cocotb.triggers import FallingEdge, RisingEdge

from hw.rtl.csr import READ_LATENCY, WORD_BITS, RegisterMap

_MASK = (1 << WORD_BITS) - 1


class CsrMaster:
    """Drives a design's `csr__*` ports: the bank's CsrBus (hw/rtl/csr.py), or the card's
    request/acknowledge CsrPort (hw/rtl/hostbus.py, in front of the arbiter)."""

    def __init__(self, dut, regmap: RegisterMap):
        self.dut = dut
        self.regmap = regmap
        self.handshake = hasattr(dut, "csr__ack")

    def idle(self) -> None:
        if self.handshake:
            self.dut.csr__valid.value = 0
            return
        self.dut.csr__w_stb.value = 0
        self.dut.csr__r_stb.value = 0

    async def access(self, address: int, value: int | None) -> int:
        """One word: a write of `value`, or a read (None) returning the word."""
        if not self.handshake:
            strobe = self.dut.csr__r_stb if value is None else self.dut.csr__w_stb
            await self._access(address, strobe, value or 0)
            return self.dut.csr__r_data.value.to_unsigned()
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.csr__valid.value = 1
        dut.csr__addr.value = address
        dut.csr__write.value = int(value is not None)
        dut.csr__w_data.value = value or 0
        while True:          # ack is high for the cycle whose rising edge completes the access
            await FallingEdge(dut.clk)
            if dut.csr__ack.value:
                data = dut.csr__r_data.value.to_unsigned()
                break
        await RisingEdge(dut.clk)
        dut.csr__valid.value = 0
        return data

    async def _access(self, address: int, strobe, data: int = 0) -> None:
        """One bus access: the strobe for one cycle, then the bank's latency."""
        await FallingEdge(self.dut.clk)
        self.dut.csr__addr.value = address
        self.dut.csr__w_data.value = data
        strobe.value = 1
        await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        strobe.value = 0
        for _ in range(READ_LATENCY - 1):
            await RisingEdge(self.dut.clk)
            await FallingEdge(self.dut.clk)

    async def write(self, name: str, value: int) -> None:
        """Word by word, least significant first (a wide rw register changes on the last)."""
        placed = self.regmap[name]
        for word in range(placed.register.words):
            await self.access(placed.address + word, (value >> (WORD_BITS * word)) & _MASK)

    async def read(self, name: str) -> int:
        """Word 0 first, which latches a wide read-only register: a consistent snapshot."""
        placed = self.regmap[name]
        value = 0
        for word in range(placed.register.words):
            value |= await self.access(placed.address + word, None) << (WORD_BITS * word)
        return value
