"""The card's contract: what the RTL (hw/rtl), the golden model (sw/model) and the host share.

Codes and their widths (`codes`), the fast-path clock (`clock`), the ITCH and FIX field limits
(`itch`, `fix`) and the table of bounds of every key the host sets on the card (`bounds`). Both
sides import this package; it imports neither, so the hardware never depends on the host's code
and the model never on the hardware's (tests/spec/test_layering.py keeps it so).
"""
