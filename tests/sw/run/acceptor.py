"""A stand-in for an external venue in tests: a plain QuickFIX FIX 4.4 acceptor that answers
every limit order with New and fills it whole at its price, in wall time.

    python tests/sw/run/acceptor.py SETTINGS_FILE
prints "ready" once it listens; ends on standard input's end."""

import sys
import time

import quickfix as fix


class Venue(fix.Application):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def onCreate(self, sid): pass          # noqa: E704,N802
    def onLogon(self, sid): pass           # noqa: E704,N802
    def onLogout(self, sid): pass          # noqa: E704,N802
    def toAdmin(self, m, sid): pass        # noqa: E704,N802
    def fromAdmin(self, m, sid): pass      # noqa: E704,N802
    def toApp(self, m, sid): pass          # noqa: E704,N802

    def fromApp(self, m, sid):             # noqa: N802
        try:
            if m.getHeader().getField(35) != "D":
                return
            qty, price = m.getField(38), m.getField(44)
            for exec_type, status, last, cum, leaves in (("0", "0", "0", "0", qty),
                                                         ("F", "2", qty, qty, "0")):
                self.n += 1
                r = fix.Message()
                r.getHeader().setField(fix.MsgType("8"))
                for tag, value in ((37, f"X{self.n}"), (17, f"XE{self.n}"), (150, exec_type),
                                   (39, status), (11, m.getField(11)), (55, m.getField(55)),
                                   (54, m.getField(54)), (38, qty), (44, price), (151, leaves),
                                   (14, cum), (6, price if last != "0" else "0"),
                                   (60, m.getField(60))):
                    r.setField(tag, str(value))
                if last != "0":
                    r.setField(32, last)
                    r.setField(31, price)
                fix.Session.sendToTarget(r, sid)
        except Exception as exc:           # an exception here would end the process
            print(f"error {exc}", file=sys.stderr, flush=True)


settings = fix.SessionSettings(sys.argv[1])
acceptor = fix.SocketAcceptor(Venue(), fix.MemoryStoreFactory(), settings,
                              fix.ScreenLogFactory(False, False, False))
acceptor.start()
print("ready", flush=True)
sys.stdin.read()
time.sleep(0.2)
sys.exit(0)
