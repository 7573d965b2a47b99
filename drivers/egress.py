"""The session host's end of a board's order egress: one UDP datagram per order.

A board's card sends each order's FIX bytes, exactly as its encoder wrote them, in a UDP
datagram to the session host (hw/rtl/udp_egress.py; addressed by the `eth_*` registers). This
receives them and hands the messages, unchanged, to the session manager (sw/session), which
puts them on its TCP session to the venue. A hardware TCP sender, which would put them on the
venue's session directly, is not built.

UDP gives no delivery guarantee; on a direct link or a switched LAN a datagram is lost only
when a buffer overflows. The receive buffer is enlarged, and every datagram is checked: one
from another host is dropped (`foreign`); one that is not exactly one FIX message (framing,
BodyLength position, trailer) is dropped (`garbled`); a MsgSeqNum that does not follow the last
one is counted (`sequence_breaks`) and passed on: the venue's gap handling is the session's
(the card's numbers are the session's numbers, and a lost order is a gap it fills).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from sw.fix.dictionary import FixValidationError, split_messages
from sw.session.framing import seq_of

#: Bytes of kernel buffer asked for: several seconds of orders at any rate the card sends.
RECEIVE_BUFFER = 4 << 20
#: The largest datagram taken (a FIX order is a few hundred bytes).
MAX_DATAGRAM = 2048


@dataclass
class EgressCounters:
    received: int = 0
    foreign: int = 0
    garbled: int = 0
    sequence_breaks: int = 0


class OrderDatagrams:
    """Receives the card's order datagrams on `port` (from `card_ip` only, when given)."""

    def __init__(self, port: int, *, host: str = "0.0.0.0", card_ip: str | None = None) -> None:
        if not 0 <= port < 1 << 16:     # 0: any free port (see `address`)
            raise ValueError(f"port must be 0..65535, not {port!r}")
        self.card_ip = str(ipaddress.IPv4Address(card_ip)) if card_ip else None
        self.counters = EgressCounters()
        self._last_seq: int | None = None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self._sock.bind((host, port))
        self._sock.setblocking(False)

    @property
    def address(self) -> tuple[str, int]:
        return self._sock.getsockname()

    def egress(self) -> list[bytes]:
        """The orders received since the last call, in arrival order (never blocks)."""
        orders = []
        while True:
            try:
                data, (source, _) = self._sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                return orders
            if self.card_ip is not None and source != self.card_ip:
                self.counters.foreign += 1
                continue
            try:
                messages = split_messages(data)
                seq = seq_of(messages[0]) if len(messages) == 1 else None
            except (FixValidationError, ValueError, IndexError):
                seq = None
            if seq is None:
                self.counters.garbled += 1
                continue
            self.counters.received += 1
            if self._last_seq is not None and seq != self._last_seq + 1:
                self.counters.sequence_breaks += 1
            self._last_seq = seq
            orders.append(data)

    def close(self) -> None:
        self._sock.close()
