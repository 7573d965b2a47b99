"""The vectorised batch decoder gives exactly what the scalar decoder (the spec) gives."""

import random

import pytest

from sw.feed import itch
from sw.feed.generator import MarketConfig, MarketGenerator
from sw.model import decoder


def scalar(data: bytes):
    view = memoryview(data)
    return [decoder.decode(view[o:o + n]) for o, n in itch.iter_framed(view)]


def batch(data: bytes):
    return list(decoder.events_from_batch(decoder.decode_batch(data)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_feeds_decode_identically(seed):
    messages = list(MarketGenerator(MarketConfig(symbols=25, messages=8_000, seed=seed)))
    data = itch.write_file(messages)
    assert batch(data) == scalar(data)


def _mutated_bodies(rng: random.Random, bodies: list[bytes]) -> list[bytes]:
    out = []
    for body in bodies:
        r = rng.random()
        if r < 0.05:
            body = body[:-1] if len(body) > 1 else body          # one byte short
        elif r < 0.10:
            body = body + bytes([rng.randrange(256)])           # one byte long
        elif r < 0.15 and body[:1] in (b"A", b"F"):
            body = body[:19] + bytes([rng.randrange(256)]) + body[20:]  # side byte
        elif r < 0.20:
            body = bytes([rng.randrange(256)]) + body[1:]        # any type byte
        elif r < 0.22:
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))  # short junk
        out.append(body)
    return out


@pytest.mark.parametrize("seed", [11, 12])
def test_malformed_and_unknown_messages_decode_identically(seed):
    rng = random.Random(seed)
    messages = list(MarketGenerator(MarketConfig(symbols=10, messages=5_000, seed=seed)))
    bodies = _mutated_bodies(rng, [itch.encode(m) for m in messages])
    data = b"".join(itch.frame(b) for b in bodies)
    expected = scalar(data)
    assert batch(data) == expected
    assert sum(e is decoder.MALFORMED for e in expected) > 100  # the mutations did bite


def test_timestamps_column_matches_the_messages():
    messages = list(MarketGenerator(MarketConfig(symbols=3, messages=500, seed=4)))
    cols = decoder.decode_batch(itch.write_file(messages))
    assert cols["timestamp"].tolist() == [m.timestamp for m in messages]


def test_file_shorter_than_the_widest_record_decodes():
    """One short message: types absent from the file must not need a full-width window."""
    data = itch.write_file([itch.SystemEvent(0, 0, 5, "O")])
    assert batch(data) == scalar(data)
