"""A stream through an `AsyncFIFO` from one clock domain to another.

Where it sits: the Ethernet port (hw/rtl/ethernet_port.py) and the OpenNIC box
(hw/rtl/opennic_box.py) each cross their received beats into the fast path's clock and their
datagrams out of it. Amaranth's FIFOs carry plain bits; the streams carry records, so the
payload goes in and comes out as the record's bits.
"""

from amaranth import Module


def stream_through(m: Module, fifo, producer, consumer) -> None:
    """Join `producer` (a stream's source side) to `consumer` (a sink side) through `fifo`.

    A producer that is always ready (it has no way to wait) writes whenever it is valid; where
    that is used, the FIFO must never be full (the caller's clock ratio says why). A consumer
    that is always ready reads the FIFO whenever it has an entry.
    """
    m.d.comb += [
        fifo.w_en.eq(producer.valid),
        fifo.w_data.eq(producer.p),
        consumer.valid.eq(fifo.r_rdy),
        consumer.p.eq(fifo.r_data),
        fifo.r_en.eq(consumer.ready),
    ]
    if not producer.signature.always_ready:
        m.d.comb += producer.ready.eq(fifo.w_rdy)
