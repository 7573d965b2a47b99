"""The `uart` transport: a dev board's registers through its UART-to-CSR bridge (pyserial).

The framing is the bridge's own (hw/rtl/uart.py, imported, never re-typed): a 10-byte request
with a CRC-16, answered by one 8-byte response with a status and a CRC. One request is in
flight at a time: the bridge has no receive FIFO, so the host waits for each answer.

Retries: a request the bridge refused for a bad CRC was not executed, so it is sent again; so
is a read that timed out or came back corrupted (reading twice is harmless). A write whose
answer is lost or corrupted may or may not have been executed (a `cmd` register must not be
written twice), so it raises instead of guessing.
"""

from __future__ import annotations

import serial

from drivers.device import DriverError, Transport
from hw.rtl import uart as bridge

BAUD = 115_200


class UartTransport(Transport):
    kind = "uart"

    def __init__(self, port: str, *, baudrate: int = BAUD, timeout: float = 1.0,
                 retries: int = 3) -> None:
        try:
            self._serial = serial.Serial(port, baudrate=baudrate, timeout=timeout)
        except (serial.SerialException, ValueError) as exc:
            raise DriverError(f"cannot open {port}: {exc}") from None
        self.retries = retries
        self.retried = 0            # requests sent again (a link-quality figure)

    def _exchange(self, op: int, address: int, value: int) -> tuple[int, int] | None:
        """One request and its answer; None if the answer is missing or corrupted."""
        self._serial.reset_input_buffer()      # drop anything stale from an earlier timeout
        self._serial.write(bridge.encode_request(op, address, value))
        answer = self._serial.read(bridge.RESPONSE_BYTES)
        if len(answer) < bridge.RESPONSE_BYTES:
            return None
        try:
            return bridge.decode_response(answer)
        except ValueError:
            return None

    def _access(self, op: int, address: int, value: int = 0) -> int:
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
            answer = self._exchange(op, address, value)
            if answer is None:
                if op == bridge.OP_WRITE:
                    raise DriverError(f"UART: no valid answer to a write of word {address}; "
                                      "it may or may not have been applied")
                continue
            status, data = answer
            if status == bridge.STATUS_OK:
                return data
            if status != bridge.STATUS_BAD_CRC:          # refused, and retrying won't help
                raise DriverError(f"UART bridge refused word {address}: status {status:#04x}")
        raise DriverError(f"UART: word {address} failed after {self.retries + 1} attempts")

    def read_word(self, address: int) -> int:
        return self._access(bridge.OP_READ, address)

    def write_word(self, address: int, value: int) -> None:
        self._access(bridge.OP_WRITE, address, value)

    def close(self) -> None:
        self._serial.close()
