"""Feed rows for the event store: every ITCH message the host's feed handler delivers, as the
columns `EventStore.add_feed` takes (docs/store.md, table `feed`).

Where it sits: beside the store, read-only over the model's own stages. The host's feed handler
(the golden `FastPath` the appliance keeps as `market`) decodes each message and keeps only the
book, so its messages cannot be read back; this walks the same frames through the same network
filter and MoldUDP64 sequencer (sw/model), which deliver exactly the messages the fast path
counts, in its order, so row i is the message of fast-path index i (`MsgIndex`, what every card
decision names). The messages are gathered into one NASDAQ-format buffer and decoded at once by
`decoder.decode_batch` (numpy), so the only per-message Python work is the sequencer's walk.

Stamps are the card's: a message's IngressCycle is its packet's ingress cycle, held monotonic as
the card's counter is (`FastPath.clock`), and IngressTime that cycle as ns since the epoch.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

import numpy as np

from spec.itch import stock_text
from sw.feed.net import UdpEndpoint
from sw.model import decoder
from sw.model.clock import cycles_to_ns
from sw.model.netfilter import NetFilter
from sw.model.sequencer import Sequencer

#: Message types whose own body names the stock (the rest take their locate's latest R).
_OWN_STOCK = np.array([ord(t) for t in "AFHR"], dtype=np.uint8)
_R = ord("R")


def feed_rows(frames: Iterable[tuple[int, bytes]], dst: UdpEndpoint,
              midnight_ns: int) -> dict[str, np.ndarray]:
    """Columns of every message the fast path delivers from `frames` ((ingress cycle, frame)
    pairs from the card's reset on, as `sw.model.ingress.feed_frames` gives them);
    `midnight_ns`: the trade date's midnight UTC in ns since the epoch."""
    net, sequencer = NetFilter(dst), Sequencer()
    buf = bytearray()
    offsets, cycles, sequences = array("q"), array("q"), array("q")
    now = 0
    for cycle, frame in frames:
        now = max(now, cycle)     # the card's cycle counter never runs backwards
        payload = net.filter(frame)
        if payload is None:
            continue
        for msg in sequencer.packet(payload):
            offsets.append(len(buf))
            buf += len(msg).to_bytes(2, "big")
            buf += msg
            cycles.append(now)
            # The sequencer counts `expected` past a message before it yields it.
            sequences.append(sequencer.expected - 1)
    data = bytes(buf)
    cols = decoder.decode_batch(data, offsets)
    prefix = np.frombuffer(offsets, dtype=np.int64)
    types = np.frombuffer(data, dtype=np.uint8)[prefix + 2]
    ingress = np.frombuffer(cycles, dtype=np.int64)
    malformed = cols["kind"] == decoder.MALFORMED_KIND
    locate = cols["locate"].astype(np.int32)
    return {
        "MsgIndex": np.arange(len(prefix), dtype=np.int64),
        "MoldSeq": np.frombuffer(sequences, dtype=np.int64),
        "ItchType": types,
        "Locate": locate,
        "Symbol": _symbols(types, locate, cols["stock"], malformed),
        "OrderRef": cols["ref"],
        "NewOrderRef": cols["new_ref"],
        # The decoder's side is 0 buy / 1 sell (spec.codes.Side); the store keeps FIX values.
        "Side": np.where(cols["side"] == 1, "2", "1"),
        "Shares": cols["shares"].astype(np.int64),
        "Price": cols["price"].astype(np.int64),
        "ItchTimestamp": cols["timestamp"].astype(np.int64),
        "IngressCycle": ingress,
        # As the appliance's TransactTime: the card's cycles as ns (exact, on the array).
        "IngressTime": midnight_ns + cycles_to_ns(ingress),
        "Malformed": malformed,
    }


def _symbols(types: np.ndarray, locate: np.ndarray, stock: np.ndarray,
             malformed: np.ndarray) -> np.ndarray:
    """Each message's symbol: its own stock field (A, F, H, R), else the one its locate's latest
    R named before it (as the book names a locate), else None (no R yet)."""
    n = len(types)
    if not n:
        return np.zeros(0, dtype=object)
    own = np.isin(types, _OWN_STOCK) & ~malformed & (stock != 0)
    # Forward-fill each locate's latest R along message order: sort by (locate, index), carry
    # the position of the last R; one from an earlier locate's run is before this run's start.
    order = np.lexsort((np.arange(n), locate))
    is_r = (types[order] == _R) & ~malformed[order]
    last_r = np.maximum.accumulate(np.where(is_r, np.arange(n), -1))
    starts = np.flatnonzero(np.r_[True, locate[order][1:] != locate[order][:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    named = np.zeros(n, dtype=np.uint64)
    found = last_r >= run_start
    named[order[found]] = stock[order[last_r[found]]]
    codes = np.where(own, stock, named)
    unique, inverse = np.unique(codes, return_inverse=True)
    texts = np.array([stock_text(int(code)) or None for code in unique], dtype=object)
    return texts[inverse]
