"""cocotb + Verilator testbench library. Not built yet: arrives with the first RTL block."""
