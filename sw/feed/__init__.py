"""Market-data toolkit: ITCH 5.0, MoldUDP64, Ethernet/IP/UDP framing, pcap, synthetic market."""
