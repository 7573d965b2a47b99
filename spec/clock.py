"""The fast path's clock: the cycle counter every timestamp and rate on the card counts in."""

#: Fast-path clock: 64-bit beats at 156.25 MHz is exactly 10 Gb/s line rate.
CLOCK_HZ = 156_250_000
#: One cycle is 6.4 ns = 32/5 ns, so nanoseconds map to cycles exactly as ns * 5 // 32.
CYCLES_PER_MS = CLOCK_HZ // 1000
