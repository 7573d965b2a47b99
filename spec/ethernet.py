"""Ethernet at 1 Gb/s as the board's MAC sees it (IEEE 802.3 clause 3 and 35; RFC 791, 768).

Shared by the MAC and UDP egress blocks (hw/rtl), their golden models and the testbenches.
Lengths count the frame from the destination MAC to the end of the FCS, as 802.3 does.
"""

#: Seven preamble bytes, then the start-of-frame delimiter, before every frame on the wire.
PREAMBLE = bytes([0x55] * 7)
SFD = 0xD5
#: The shortest legal frame (FCS included); shorter ones are runts. A transmitter pads to it.
MIN_FRAME = 64
#: The longest frame taken (FCS included): 1,518 plus a VLAN tag. Longer ones are giants.
MAX_FRAME = 1522
FCS_BYTES = 4
#: The smallest gap between frames, in byte times (96 bit times).
IFG_BYTES = 12
#: The CRC-32 register left after a good frame's FCS has been run through it (the residue,
#: bit-reversed form as zlib keeps it), so a receiver checks a frame without finding its end.
CRC_RESIDUE = 0xDEBB20E3
#: 1 Gb/s GMII: one byte per cycle of 125 MHz.
GMII_HZ = 125_000_000

ETH_HEADER = 14
IPV4_HEADER = 20
UDP_HEADER = 8
#: The header bytes in front of a UDP payload: Ethernet II, IPv4 without options, UDP.
UDP_FRAME_HEADER = ETH_HEADER + IPV4_HEADER + UDP_HEADER
ETHERTYPE_IPV4 = 0x0800
IP_PROTO_UDP = 17
