"""The session host's receiver of a board's order datagrams (drivers/egress.py), over loopback:
orders come out unchanged and in order; foreign, garbled and out-of-sequence datagrams are
dropped or counted, never passed on as orders."""

import socket

import pytest

from drivers.egress import OrderDatagrams


def fix_order(seq: int) -> bytes:
    body = f"35=D\x0149=NERVE\x0156=VENUE\x0134={seq:08d}\x0111=NRV{seq:08d}\x01".encode()
    head = b"8=FIX.4.4\x019=" + f"{len(body):03d}".encode() + b"\x01"
    return head + body + f"10={sum(head + body) % 256:03d}\x01".encode()


@pytest.fixture
def receiver():
    datagrams = OrderDatagrams(0, host="127.0.0.1", card_ip="127.0.0.1")
    yield datagrams
    datagrams.close()


def send(receiver, *payloads, source="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        for payload in payloads:
            sock.sendto(payload, receiver.address)


def drain(receiver, expected: int) -> list[bytes]:
    got = []
    for _ in range(1000):
        got += receiver.egress()
        if sum(vars(receiver.counters).values()) >= expected:
            break
    return got


def test_orders_come_out_unchanged_and_in_order(receiver):
    orders = [fix_order(seq) for seq in range(7, 12)]
    send(receiver, *orders)
    assert drain(receiver, len(orders)) == orders
    assert receiver.counters.received == 5 and receiver.counters.sequence_breaks == 0


def test_garbled_datagrams_are_dropped_and_counted(receiver):
    good = fix_order(1)
    send(receiver, b"not fix at all", good[:-5], good + fix_order(2), good)
    assert drain(receiver, 4) == [good]
    assert (receiver.counters.garbled, receiver.counters.received) == (3, 1)


def test_a_datagram_from_another_host_is_dropped(receiver):
    send(receiver, fix_order(1), source="127.0.0.2")
    send(receiver, fix_order(2))
    assert drain(receiver, 2) == [fix_order(2)]
    assert receiver.counters.foreign == 1


def test_a_missing_number_is_counted_and_the_next_order_still_passes(receiver):
    send(receiver, fix_order(1), fix_order(3))
    assert drain(receiver, 2) == [fix_order(1), fix_order(3)]
    assert receiver.counters.sequence_breaks == 1


def test_a_bad_port_is_refused():
    with pytest.raises(ValueError, match="port must be 0..65535, not 70000"):
        OrderDatagrams(70000)

