"""The model card (drivers/model.py) follows the RTL's rules: slots by learning or by the host's
subscriptions, the slot map read back through the registers, and the FIX session identity the
host writes."""

from __future__ import annotations

import datetime as dt

from drivers.card import Card
from drivers.device import Device
from drivers.model import ModelCard, ModelTransport
from hw.rtl.encoder import ascii_word
from hw.rtl.nic import REGMAP
from spec.itch import stock_text
from sw.feed.generator import MarketConfig, MarketGenerator, PcapOptions, pcap_frames, ticker
from sw.feed.net import UdpEndpoint
from sw.model.config import load_limits, load_strategy

DST = UdpEndpoint()


def frames(late: int = 0, messages: int = 600) -> list[bytes]:
    config = MarketConfig(symbols=6, messages=messages, seed=2, late_symbols=late)
    return [f for _, f in pcap_frames(list(MarketGenerator(config)), PcapOptions(dst=DST), 2)]


def slot_map(device: Device) -> list[tuple[int, int, str]]:
    rows = []
    for slot in range(device.read("book_slots_used") + 1):     # one past the last: free
        device.write("book_map_slot", slot)
        values = device.read_many(["book_map_locate", "book_map_named", "book_map_stock"])
        rows.append((values["book_map_locate"], values["book_map_named"],
                     stock_text(values["book_map_stock"])))
    return rows


def test_learning_gives_slots_in_the_order_the_feed_first_names_locates():
    model = ModelCard(DST)
    device = Device(ModelTransport(model), REGMAP)
    assert device.read("book_learn") == 1
    late = frames(late=2)
    at = 0
    while 1 not in [locate for locate, _, _ in slot_map(device)]:
        model.frame(late[at])
        at += 1
    assert (1, 0, "") in slot_map(device)       # named by an add, before its R
    for frame in late[at:]:
        model.frame(frame)
    taken = slot_map(device)
    assert taken[-1] == (0, 0, "")
    assert sorted(taken[:-1]) == [(i + 1, 1, ticker(i)) for i in range(6)]
    assert [locate for locate, _, _ in taken[:-1]] != list(range(1, 7))


def test_with_learning_off_only_subscribed_locates_get_slots():
    model = ModelCard(DST)
    device = Device(ModelTransport(model), REGMAP)
    device.write_many([("book_learn", 0), ("book_subscribe", 4), ("book_subscribe", 2),
                       ("book_subscribe", 4), ("book_subscribe", 1 << 14)])
    for frame in frames():
        model.frame(frame)
    assert slot_map(device) == [(4, 1, ticker(3)), (2, 1, ticker(1)), (0, 0, "")]
    counts = device.read_many(["book_subscribe_refused", "book_unsubscribed"])
    assert counts["book_subscribe_refused"] == 1 and counts["book_unsubscribed"] > 0


def test_the_model_encoder_takes_the_session_identity_written_to_the_card():
    model = ModelCard(DST)
    card = Card(Device(ModelTransport(model), REGMAP), {ticker(i): i + 1 for i in range(6)})
    card.listen(DST, dt.date(2027, 1, 4))
    card.device.write_many([("fix_sender", ascii_word("DESK7")), ("fix_sender_len", 5),
                            ("fix_target", ascii_word("XNYS")), ("fix_target_len", 4),
                            ("fix_clordid_prefix", ascii_word("QX")),
                            ("fix_clordid_prefix_len", 2)])
    card.subscribe()
    card.load_limits(load_limits({}))
    card.load_strategy(load_strategy({}))
    card.release()
    for frame in frames():
        model.frame(frame)
    sent = model.fast.out.fix
    assert sent and all(b"\x0149=DESK7\x0156=XNYS\x01" in m and b"\x0111=QX000" in m
                        and b"\x0152=20270104-" in m for m in sent)
    assert not card.status().halted


def test_an_invalid_session_identity_halts_trading_as_on_the_rtl():
    model = ModelCard(DST)
    card = Card(Device(ModelTransport(model), REGMAP), {})
    card.device.write("risk_halt", 0)
    card.device.write("fix_sender_len", 0)
    status = card.status()
    assert status.halted and "FIX configuration invalid" in status.halt_reasons
    card.device.write("fix_sender_len", 5)
    assert not card.status().halted
