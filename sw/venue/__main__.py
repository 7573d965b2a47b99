"""`python -m sw.venue`: one simulated venue process (sw/venue/server.py has the protocol).

    python -m sw.venue --feed FEED (--fix-config FILE | --port PORT [--comp-id VENUE]
        [--member NERVE] [--store DIR]) [--name SIM] [--latency-in-ns N] [--latency-out-ns N]
        [--maker-fee UNITS] [--taker-fee UNITS] [--fill-probability P]
        [--queue-model risk_averse|prob:POWER] [--seed N] [--trade-date YYYY-MM-DD]
        [--wait-seconds S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

from sw.venue.market import feed_date
from sw.venue.matching import ProbQueueModel, QueueModel, VenueSettings
from sw.venue.server import WAIT_SECONDS, VenueServer

DICTIONARY = Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml"


def acceptor_settings(port: int, comp_id: str, member: str, store: Path) -> str:
    """A QuickFIX acceptor settings file for one FIX 4.4 session on 127.0.0.1:`port`.
    CheckLatency is off: the member stamps SendingTime from the replayed feed, not the wall."""
    store.mkdir(parents=True, exist_ok=True)
    return "\n".join([
        "[DEFAULT]", "ConnectionType=acceptor", f"FileStorePath={store / 'store'}",
        f"FileLogPath={store / 'log'}", "StartTime=00:00:00", "EndTime=00:00:00",
        "UseDataDictionary=Y", f"DataDictionary={DICTIONARY}", "SocketAcceptHost=127.0.0.1",
        f"SocketAcceptPort={port}", "CheckLatency=N", "ResetOnLogon=N", "",
        "[SESSION]", "BeginString=FIX.4.4", f"SenderCompID={comp_id}",
        f"TargetCompID={member}", ""])


def queue_model(text: str) -> QueueModel:
    if text == "risk_averse":
        return QueueModel()
    if text.startswith("prob:"):
        return ProbQueueModel(float(text[5:]))
    raise argparse.ArgumentTypeError(f"queue model {text!r}: risk_averse or prob:POWER")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sw.venue", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feed", type=Path, required=True)
    parser.add_argument("--fix-config", type=Path)
    parser.add_argument("--port", type=int)
    parser.add_argument("--comp-id", default="VENUE")
    parser.add_argument("--member", default="NERVE")
    parser.add_argument("--store", type=Path)
    parser.add_argument("--name", default="SIM")
    parser.add_argument("--latency-in-ns", type=int, default=50_000)
    parser.add_argument("--latency-out-ns", type=int, default=50_000)
    parser.add_argument("--maker-fee", type=int, default=-20)
    parser.add_argument("--taker-fee", type=int, default=30)
    parser.add_argument("--fill-probability", type=float, default=1.0)
    parser.add_argument("--queue-model", type=queue_model, default=QueueModel())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trade-date", type=dt.date.fromisoformat)
    parser.add_argument("--wait-seconds", type=float, default=WAIT_SECONDS,
                        help="how long `advance` waits for the orders the driver says it sent")
    args = parser.parse_args(argv)
    if (args.fix_config is None) == (args.port is None):
        parser.error("give exactly one of --fix-config FILE and --port PORT")
    try:
        feed = args.feed.read_bytes()
        settings = VenueSettings(args.name, args.latency_in_ns, args.latency_out_ns,
                                 args.maker_fee, args.taker_fee, args.fill_probability,
                                 args.queue_model, args.seed)
    except (OSError, ValueError) as error:
        print(f"error {error}", flush=True)
        return 2
    config = args.fix_config
    if config is None:
        store = args.store or Path(tempfile.mkdtemp(prefix=f"venue-{args.name}-"))
        config = store / "acceptor.cfg"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(acceptor_settings(args.port, args.comp_id, args.member, store))
    venue = VenueServer(str(config), feed, settings, args.trade_date or feed_date(feed),
                        wait_seconds=args.wait_seconds)
    venue.start()
    print(f"ready {args.port or 0}", flush=True)
    venue.serve(sys.stdin, sys.stdout)
    venue.stop()
    sys.stdout.flush()
    os._exit(0)                  # not acceptor.stop(): see VenueServer.stop


if __name__ == "__main__":
    sys.exit(main())
