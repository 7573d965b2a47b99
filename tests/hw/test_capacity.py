# amaranth: UnusedElaboratable=no
# (a FastPath refused at construction is never elaborated)
"""Capacity as a build parameter (hw/rtl/capacity.py): each capacity's fast path builds its
blocks at that capacity's sizes, bad capacities are refused with a clear message, and the host
learns the built capacity from the card rather than assuming it."""

from itertools import pairwise

import pytest
from amaranth.hdl import Fragment

from drivers.card import Card, CardError
from drivers.device import Device
from drivers.model import ModelCard, ModelTransport
from hw.rtl import book
from hw.rtl.capacity import BOARD, CAPACITIES, DEFAULT, MIDDLE, Capacity, by_name
from hw.rtl.fastpath import REGMAP, SLOTS, FastPath
from sw.feed.net import UdpEndpoint


def blocks(capacity):
    """The fast path's blocks as elaborated for `capacity`, by submodule name."""
    fragment = Fragment.get(FastPath(capacity=capacity), None)
    return {name: sub.origins[0] for sub, name, _ in fragment.subfragments}


@pytest.mark.parametrize("capacity", [BOARD, MIDDLE, DEFAULT], ids=lambda c: c.name)
def test_every_block_is_built_at_the_capacitys_sizes(capacity):
    built = blocks(capacity)
    assert built["book"].slots == capacity.slots
    assert built["book"].order_sets == capacity.order_sets
    assert built["book"].levels == capacity.levels
    assert built["trader"].slots == capacity.slots and built["trader"].orders == capacity.orders
    assert built["strategy"].slots == capacity.slots and built["gate"].slots == capacity.slots


def test_the_capacities_grow_from_board_to_default_and_default_fills_the_register_map():
    sizes = [(c.slots, c.book_orders, c.levels, c.orders) for c in (BOARD, MIDDLE, DEFAULT)]
    assert all(a < b for small, large in pairwise(sizes) for a, b in zip(small, large, strict=True))
    assert DEFAULT.slots == SLOTS == REGMAP["book_unreliable"].register.width
    assert BOARD.book_orders == book.TABLES * book.WAYS * BOARD.order_sets == 2048
    assert list(CAPACITIES) == ["board", "middle", "default"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"slots": 0}, "slots must be 1..32, not 0"),
    ({"slots": 33}, "slots must be 1..32, not 33"),
    ({"order_sets": 100}, "order_sets must be a power of two of at least 2, not 100"),
    ({"levels": 1}, "levels must be a power of two of at least 2, not 1"),
    ({"orders": 96}, "orders must be a power of two of at least 2, not 96"),
])
def test_a_bad_capacity_is_refused_with_what_is_wrong(kwargs, message):
    fields = {"name": "bad", "slots": 8, "order_sets": 256, "levels": 64, "orders": 128}
    with pytest.raises(TypeError, match=message):
        Capacity(**{**fields, **kwargs})


def test_capacities_are_found_by_name_and_a_wrong_name_lists_the_choices():
    assert by_name("board") is BOARD
    with pytest.raises(ValueError, match="no capacity named 'huge'; choose one of board, "
                                         "middle, default"):
        by_name("huge")
    with pytest.raises(TypeError, match="capacity must be a Capacity, not 'board'"):
        FastPath(capacity="board")


def test_the_host_learns_the_slot_count_from_the_card():
    model = ModelCard(UdpEndpoint())
    device = Device(ModelTransport(model), REGMAP)
    assert device.read("book_slots") == SLOTS
    assert Card(device, ["AAPL"]).slot_capacity == SLOTS
    model.read_word = lambda address, read=model.read_word: (   # a board build: 8 slots
        BOARD.slots if address == REGMAP["book_slots"].address else read(address))
    with pytest.raises(CardError, match="9 symbols do not fit the card's 8 slots"):
        Card(device, [f"S{i}" for i in range(9)])
