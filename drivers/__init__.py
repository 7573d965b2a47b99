"""Host drivers: one API to the card's registers and events over interchangeable transports.

    Card (limits, strategy, kill switch, status)      drivers/card.py
      -> Device (registers by name, events)           drivers/device.py
         -> Transport: model | sim | uart | pcie      drivers/<transport>.py
"""

from __future__ import annotations

BACKENDS = ("model", "sim", "uart", "pcie")


def open_device(backend: str, device: str | None = None):
    """A Device over `backend`; `device` is the sim server's HOST:PORT (none: start a simulated
    card for this process), the serial port, or the BAR resource file (the model needs none)."""
    from drivers.device import Device, DriverError
    from hw.rtl.nic import REGMAP

    if backend == "model":
        from drivers.model import ModelTransport
        return Device(ModelTransport(), REGMAP)
    if backend == "sim":
        from drivers.sim import SimServer, SimTransport
        if device is None:          # no card running yet: start one for this process
            server = SimServer().start()
            transport = SimTransport.connect(server.address)
            transport.server = server
            return Device(transport, REGMAP)
        return Device(SimTransport.connect(device), REGMAP)
    if device is None:
        raise DriverError(f"the {backend} backend needs --device")
    if backend == "uart":
        from drivers.uart import UartTransport
        return Device(UartTransport(device), REGMAP)
    if backend == "pcie":
        from drivers.pcie import PcieTransport
        return Device(PcieTransport(device, words=REGMAP.words), REGMAP)
    raise DriverError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
