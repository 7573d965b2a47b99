"""The FIX session manager (sw/session/session.py) against a scripted venue on loopback.

The venue here is a bare socket server that frames with sw/session/framing.py and sends exactly
the bytes a test asks for, so every session rule (sequence gaps, resends, garbled and invalid
messages, timers) is driven on purpose. tests/sw/session/test_venue_loop.py runs the session
against the real QuickFIX venue."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from sw.session import framing
from sw.session.session import FixSession, SessionConfig, SessionError

NOW = dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)
STAMP = "20261120-14:30:00.000"


class Counter:
    """The card's MsgSeqNum counter: orders and reservations take numbers from one space."""

    def __init__(self, first: int = 1) -> None:
        self.value = first

    def reserve(self) -> int:
        self.value += 1
        return self.value - 1

    def next(self) -> int:
        return self.value

    def order(self, clordid: str) -> bytes:
        """A D as the card would encode it, with the next number."""
        return framing.build("D", "NERVE", "VENUE", self.reserve(), STAMP, [
            (11, clordid), (55, "AAPL"), (54, 1), (60, STAMP), (38, 100), (40, 2),
            (44, "100.0000"), (59, 0)])


class Venue:
    """A scripted acceptor: records what arrives, sends what it is told."""

    def __init__(self) -> None:
        self.messages: list[dict[int, str]] = []
        self.raw: list[bytes] = []
        self.seq = 0
        self.arrived = asyncio.Condition()
        self.writer: asyncio.StreamWriter | None = None
        self.connections = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _client(self, reader, writer) -> None:
        self.writer = writer
        self.connections += 1
        frames = framing.FrameReader()
        while data := await reader.read(65536):
            for piece in frames.feed(data):
                async with self.arrived:
                    self.raw.append(piece)
                    self.messages.append(fields(piece))
                    self.arrived.notify_all()
                if self.messages[-1][35] == "5":
                    self.send("5", [])                 # a venue answers a Logout in kind

    async def wait_for(self, msg_type: str, count: int = 1, timeout: float = 5.0) -> list:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(
                lambda: len(self.of(msg_type)) >= count), timeout)
        return self.of(msg_type)

    def of(self, msg_type: str) -> list[dict[int, str]]:
        return [m for m in self.messages if m[35] == msg_type]

    def send(self, msg_type: str, fields_: list, *, seq: int | None = None,
             poss_dup: bool = False) -> bytes:
        if seq is None:
            self.seq += 1
            seq = self.seq
        extra = [(43, "Y"), (122, STAMP)] if poss_dup else []
        data = framing.build(msg_type, "VENUE", "NERVE", seq, STAMP, [*extra, *fields_])
        if poss_dup:   # PossDupFlag and OrigSendingTime belong in the header, after 52
            data = framing.build(msg_type, "VENUE", "NERVE", seq, STAMP, fields_)
            head, rest = data.split(b"\x0152=" + STAMP.encode() + b"\x01", 1)
            body = (head.split(b"\x019=", 1)[1].split(b"\x01", 1)[1]
                    + b"\x0152=" + STAMP.encode() + b"\x0143=Y\x01122=" + STAMP.encode()
                    + b"\x01" + rest.rsplit(b"10=", 1)[0])
            data = framing.BEGIN + str(len(body)).encode() + b"\x01" + body
            data += b"10=%03d\x01" % (sum(data) % 256)
        self.writer.write(data)
        return data

    def execution(self, n: int) -> list:
        return [(37, f"O{n}"), (11, f"C{n}"), (17, f"E{n}"), (150, 0), (39, 0), (55, "AAPL"),
                (54, 1), (151, 100), (14, 0), (6, 0)]


def fields(raw: bytes) -> dict[int, str]:
    return {int(k): v for k, v in (f.split("=", 1) for f in raw.decode().split("\x01")[:-1])}


async def connected(tmp_path, *, heartbeat: int = 30, first_seq: int = 1):
    venue = Venue()
    port = await venue.start()
    seq = Counter(first_seq)
    inbound: list = []
    undelivered: list = []
    session = FixSession(SessionConfig("127.0.0.1", port, "NERVE", "VENUE", heartbeat, 0.05,
                                       tmp_path), seq, inbound.append,
                         on_undelivered=undelivered.append, clock=lambda: NOW)
    session.start()
    (logon,) = await venue.wait_for("A")
    venue.send("A", [(98, 0), (108, heartbeat)])
    await asyncio.wait_for(session.logged_on.wait(), 5)
    return venue, session, seq, inbound, undelivered, logon


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 30))


def test_orders_go_out_unchanged_and_in_one_gap_free_sequence(tmp_path):
    async def scenario():
        venue, session, seq, *_ = await connected(tmp_path, first_seq=41)
        first = seq.order("C1")                        # 42
        session.send_order(first)
        # The card has encoded 43 but it has not reached the session yet when the session
        # sends a Heartbeat (it reserves 44), and the card's 45 overtakes 43 as well.
        second = seq.order("C2")
        session._send_admin("0", [])                   # the timer's Heartbeat, numbered 44
        third = seq.order("C3")
        session.send_order(third)
        await asyncio.sleep(0.05)
        assert [m[34] for m in venue.messages] == ["41", "42"]     # 44 and 45 wait for 43
        session.send_order(second)
        await venue.wait_for("D", 3)
        await session.stop()
        return venue, first, second, third

    venue, first, second, third = run(scenario())
    assert [m[34] for m in venue.messages[:5]] == ["41", "42", "43", "44", "45"]
    assert venue.raw[1] == first and venue.raw[2] == second and venue.raw[4] == third
    assert venue.messages[0][35] == "A" and venue.messages[3][35] == "0"


def test_a_venue_resend_request_is_answered_with_one_gap_fill(tmp_path):
    async def scenario():
        venue, session, seq, *_ = await connected(tmp_path)
        for n in range(3):
            session.send_order(seq.order(f"C{n}"))
        await venue.wait_for("D", 3)
        venue.send("2", [(7, 2), (16, 0)])
        (gap_fill,) = await venue.wait_for("4")
        await session.stop()
        return venue, gap_fill, session

    venue, gap_fill, session = run(scenario())
    assert (gap_fill[34], gap_fill[123], gap_fill[43], gap_fill[36]) == ("2", "Y", "Y", "5")
    assert 122 in gap_fill
    assert len(venue.of("D")) == 3 and session.counters.gap_fills_sent == 1   # nothing re-sent


def test_an_inbound_gap_is_asked_for_and_filled_in_order(tmp_path):
    async def scenario():
        venue, session, seq, inbound, *_ = await connected(tmp_path)
        venue.send("8", venue.execution(1))            # 2
        venue.seq += 1                                 # 3 is lost on the way
        venue.send("8", venue.execution(3))            # 4
        (request,) = await venue.wait_for("2")
        venue.send("8", venue.execution(2), seq=3, poss_dup=True)
        await asyncio.sleep(0.1)
        next_in = session.next_in
        await session.stop()
        return request, inbound, next_in

    request, inbound, next_in = run(scenario())
    assert (request[7], request[16]) == ("3", "0")
    assert [m.getField(11) for m in inbound] == ["C1", "C2", "C3"]
    assert next_in == 5


def test_garbled_messages_are_dropped_and_invalid_ones_rejected_without_ending_the_session(
        tmp_path):
    async def scenario():
        venue, session, seq, inbound, *_ = await connected(tmp_path)
        good = framing.build("8", "VENUE", "NERVE", 2, STAMP, venue.execution(1))
        venue.writer.write(good[:-4] + b"999\x01")                 # CheckSum wrong
        venue.writer.write(b"8=FIX.4.4\x019=5\x0135=0\x0110=000\x01")  # BodyLength wrong
        venue.writer.write(good)                                    # the real 2
        venue.seq = 2
        venue.send("8", [(37, "O2"), (11, "C2"), (55, "AAPL")])    # 3: required tags missing
        (reject,) = await venue.wait_for("3")
        venue.send("8", venue.execution(4))                         # 4: the session is up
        await asyncio.sleep(0.1)
        next_in = session.next_in
        await session.stop()
        return reject, inbound, session, next_in

    reject, inbound, session, next_in = run(scenario())
    assert session.counters.garbled == 2 and session.counters.rejected == 1
    assert (reject[45], reject[373]) == ("3", "1")
    assert "RequiredTagMissing" in reject[58]
    assert [m.getField(11) for m in inbound] == ["C1", "C4"]
    assert next_in == 5


def test_a_number_too_low_without_possdup_ends_the_session(tmp_path):
    async def scenario():
        venue, session, *_ = await connected(tmp_path)
        venue.send("8", venue.execution(1), seq=1)
        (logout,) = await venue.wait_for("5")
        await asyncio.sleep(0.02)
        dropped = not session.logged_on.is_set()
        await session.stop()
        return logout, dropped, session

    logout, dropped, session = run(scenario())
    assert logout[58] == "MsgSeqNum too low, expecting 2 but received 1"
    assert dropped and session.counters.disconnects >= 1


def test_heartbeats_and_test_requests_follow_the_heartbeat_interval(tmp_path):
    async def scenario():
        venue, session, *_ = await connected(tmp_path, heartbeat=1)
        await venue.wait_for("0", 1, timeout=3)        # nothing sent for 1 s: a Heartbeat
        (test,) = await venue.wait_for("1", 1, timeout=3)   # nothing received for 1.2 s
        venue.send("0", [(112, test[112])])
        await asyncio.sleep(0.3)
        assert session.logged_on.is_set()
        await session.stop()

    run(scenario())


def test_orders_while_disconnected_are_never_sent_late_and_the_session_comes_back(tmp_path):
    async def scenario():
        venue, session, seq, inbound, undelivered, _ = await connected(tmp_path)
        venue.writer.close()                           # the venue drops the connection
        await asyncio.sleep(0.05)
        missed = seq.order("LATE")
        assert session.send_order(missed) is False
        (logon, second) = await venue.wait_for("A", 2)
        venue.send("A", [(98, 0), (108, 30)])
        await asyncio.wait_for(session.logged_on.wait(), 5)
        session.send_order(seq.order("NEXT"))
        await venue.wait_for("D", 1)
        await session.stop()
        return venue, undelivered, missed, second

    venue, undelivered, missed, logon = run(scenario())
    assert undelivered == [missed]
    assert [m[11] for m in venue.of("D")] == ["NEXT"]
    assert int(logon[34]) > int(fields(missed)[34])    # the new Logon is numbered after it


def test_settings_come_from_a_standard_quickfix_file(tmp_path):
    config = tmp_path / "initiator.cfg"
    config.write_text("[DEFAULT]\nConnectionType=initiator\nHeartBtInt=5\nReconnectInterval=2\n"
                      f"FileStorePath={tmp_path}/store\nStartTime=00:00:00\nEndTime=00:00:00\n"
                      "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=NERVE\nTargetCompID=XNAS\n"
                      "SocketConnectHost=127.0.0.1\nSocketConnectPort=9878\n")
    got = SessionConfig.from_quickfix(config)
    assert (got.host, got.port, got.sender, got.target, got.heartbeat_seconds,
            got.reconnect_seconds) == ("127.0.0.1", 9878, "NERVE", "XNAS", 5, 2.0)
    with pytest.raises(SessionError, match="not found"):
        SessionConfig.from_quickfix(tmp_path / "missing.cfg")


def test_two_sessions_on_one_counter_each_see_a_gap_free_sequence(tmp_path):
    """Orders routed between two venues, and each session's own admin messages, take numbers
    from the one card counter; each venue gets GapFills over the numbers that went elsewhere."""
    from sw.session.session import SharedSequence

    async def scenario():
        card = Counter()
        shared = SharedSequence(card)
        venues, sessions = [], []
        for name in ("A", "B"):
            venue = Venue()
            port = await venue.start()
            session = FixSession(SessionConfig("127.0.0.1", port, "NERVE", "VENUE", 30, 0.05,
                                               tmp_path / name), shared.for_session(),
                                 lambda m: None, clock=lambda: NOW)
            session.start()
            await venue.wait_for("A")
            venue.send("A", [(98, 0), (108, 30)])
            await asyncio.wait_for(session.logged_on.wait(), 5)
            venues.append(venue)
            sessions.append(session)
        for n, to in enumerate((0, 1, 1, 0, 1)):
            raw = card.order(f"C{n}")
            shared.routed(framing.seq_of(raw), sessions[to])
            sessions[to].send_order(raw)
        sessions[0]._send_admin("0", [])               # A's Heartbeat takes a number too
        sessions[1].send_order(last := card.order("C5"))
        shared.routed(framing.seq_of(last), sessions[1])
        await venues[1].wait_for("D", 4)
        await venues[0].wait_for("0", 1)
        for session in sessions:
            await session.stop()
        return venues

    venues = run(scenario())
    for venue in venues:
        expected = None
        for message in venue.messages:
            if message[35] == "5":
                break
            seq = int(message[34])
            assert expected is None or seq == expected, venue.messages
            expected = int(message[36]) if message[35] == "4" else seq + 1
    assert [m[11] for m in venues[0].of("D")] == ["C0", "C3"]
    assert [m[11] for m in venues[1].of("D")] == ["C1", "C2", "C4", "C5"]
    assert venues[1].of("4") and venues[0].of("4")
