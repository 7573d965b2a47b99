"""Replay a recorded or synthetic feed through the fast path and write its outputs.

Where it sits: behind `nerve replay`. It reads a NASDAQ file or a pcap, stamps each packet with
its ingress cycle (docs/golden-model.md, "Time"), applies scheduled host actions between packets,
and writes bbo.csv, orders.fix, orders.csv and rejects.csv. The backend is the golden model; the
RTL backends of later issues must produce the same files byte for byte.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from sw.feed import itch
from sw.feed.generator import DEFAULT_DATE
from sw.feed.itch import FeedFormatError
from sw.feed.net import UdpEndpoint, capture_date, is_pcap, read_pcap
from sw.model import decoder
from sw.model.clock import NS_PER_DAY, ns_to_cycles
from sw.model.config import (
    ConfigError,
    Limits,
    StrategyConfig,
    SymbolLimitsUpdate,
    describe,
    load_limits,
    load_strategy,
    read_json,
)
from sw.model.fastpath import BboRow, FastPath, OrderRow, RejectRow
from sw.model.orders import SIDE_CHAR

# --- host actions scheduled against the feed -----------------------------------------------

class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    before_msg: int = Field(ge=0, description="applied before the packet holding this message")


class HaltAction(_Action):
    action: Literal["halt"]


class ReleaseAction(_Action):
    action: Literal["release"]


class ClearStaleAction(_Action):
    action: Literal["clear_stale"]


class SetLimitsAction(_Action):
    action: Literal["set_limits"]
    symbol: str | None = None           # None: the defaults
    limits: SymbolLimitsUpdate


class OrderEndedAction(_Action):
    action: Literal["order_ended"]
    clordid: int = Field(ge=1, description="ClOrdID number of the order's first message")


class HostOrderAction(_Action):
    """An order the host makes, by the card's host order port (it passes the risk gate)."""

    action: Literal["host_order"]
    symbol: str = Field(min_length=1, max_length=8)
    side: Literal["B", "S"]
    price: int = Field(gt=0, lt=1 << 32, description="limit price, ITCH units")
    qty: int = Field(gt=0, lt=1 << 32, description="shares")
    tif: Literal["0", "3"] = Field("3", description="FIX TimeInForce: 0 day, 3 IOC")


HostAction = Annotated[HaltAction | ReleaseAction | ClearStaleAction | SetLimitsAction
                       | OrderEndedAction | HostOrderAction, Field(discriminator="action")]
_SCHEDULE = TypeAdapter(list[HostAction])


def load_control(path: Path) -> list[_Action]:
    """A JSON list of host actions, e.g. [{"before_msg": 5000, "action": "halt"}]."""
    name = f"control file {path}"
    data = read_json(path, name)
    try:
        actions = _SCHEDULE.validate_python(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, name)) from None
    return sorted(actions, key=lambda a: a.before_msg)


def apply_action(fast: FastPath, action: _Action) -> None:
    if isinstance(action, HaltAction):
        fast.halt()
    elif isinstance(action, ReleaseAction):
        fast.release()
    elif isinstance(action, ClearStaleAction):
        fast.clear_stale()
    elif isinstance(action, SetLimitsAction):
        fast.set_limits(action.symbol, action.limits)
    elif isinstance(action, OrderEndedAction):
        if action.clordid not in fast.gate.orders:
            raise ConfigError(f"control file: order_ended before message {action.before_msg} "
                              f"names ClOrdID {action.clordid}, which is not an open order")
        fast.order_ended(action.clordid)
    elif isinstance(action, HostOrderAction):
        locate = fast.locate_of(action.symbol)
        if locate is None or not fast.host_order(locate, SIDE_CHAR.index(action.side),
                                                 action.price, action.qty, action.tif):
            raise ConfigError(f"control file: host_order before message {action.before_msg} "
                              f"names {action.symbol}, which the card has not traded yet (no "
                              f"R, or no book update since it)")


# --- feed sources --------------------------------------------------------------------------

@dataclass(frozen=True)
class Feed:
    """A feed file image and how to walk it as ingress units (packets or messages)."""

    kind: Literal["itch", "pcap"]
    data: bytes

    @classmethod
    def open(cls, path: Path) -> Feed:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FeedFormatError(0, f"cannot read {path}: {exc.strerror}") from None
        if not data:
            raise FeedFormatError(0, f"{path} is empty")
        return cls("pcap" if is_pcap(data) else "itch", data)

    def trade_date(self) -> dt.date:
        """The capture date of a pcap's first frame; the generator's date for a NASDAQ file."""
        return capture_date(self.data) or DEFAULT_DATE


def _itch_units(data: bytes) -> list[tuple[int, object]]:
    """Each message of a NASDAQ file is its own ingress unit, stamped from its ITCH timestamp.

    Returns (ingress cycle, BookEvent row) pairs: the file is decoded in one vectorised batch.
    """
    cols = decoder.decode_batch(data, itch.frame_offsets(data))
    cycles = ns_to_cycles(cols["timestamp"]).tolist()  # vectorised: numpy arrays in and out
    return list(zip(cycles, decoder.rows_from_batch(cols), strict=True))


# --- the replay ----------------------------------------------------------------------------

@dataclass
class ReplayResult:
    fast: FastPath
    out_dir: Path

    @property
    def summary(self) -> dict:
        return self.fast.summary()


def replay(feed_path: Path, out_dir: Path, *, limits: Limits | None = None,
           strategy: StrategyConfig | None = None, control: list[_Action] = (),
           dst: UdpEndpoint = UdpEndpoint(), trade_date: dt.date | None = None,
           clordid_prefix: str | None = None,
           progress: Callable[[int, int], None] | None = None) -> ReplayResult:
    feed = Feed.open(feed_path)
    session = {} if clordid_prefix is None else {"clordid_prefix": clordid_prefix}
    fast = FastPath(limits or load_limits({}), strategy or load_strategy({}), dst=dst,
                    trade_date=trade_date or feed.trade_date(), **session)
    pending = list(control)
    # Walk the whole file's framing first: a truncated feed is refused before any work is done.
    if feed.kind == "itch":
        units = _itch_units(feed.data)
        deliver = fast.row
    else:
        units = [(ns_to_cycles(ts % NS_PER_DAY), f) for ts, f in read_pcap(feed.data)]
        deliver = fast.frame
    for step, (cycle, unit) in enumerate(units, 1):
        while pending and pending[0].before_msg <= fast.msg_index:
            apply_action(fast, pending.pop(0))
        deliver(unit, cycle)
        if progress is not None and step % 100_000 == 0:
            progress(step, len(units))
    for action in pending:  # scheduled past the end of the feed: apply in order
        apply_action(fast, action)
    write_outputs(fast, out_dir)
    return ReplayResult(fast, out_dir)


def write_csv(path: Path, header: tuple[str, ...], rows) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_outputs(fast: FastPath, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "bbo.csv", BboRow._fields, fast.out.bbo)
    write_csv(out_dir / "orders.csv", OrderRow._fields, fast.out.orders)
    write_csv(out_dir / "rejects.csv", RejectRow._fields, fast.out.rejects)
    (out_dir / "orders.fix").write_bytes(b"".join(fast.out.fix))
    (out_dir / "summary.json").write_text(json.dumps(fast.summary(), indent=2) + "\n")
