"""Hardware: Amaranth RTL (`hw.rtl`) and its cocotb + Verilator testbench library (`hw.tb`)."""
