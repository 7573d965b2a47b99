"""Golden model of the fast path: the executable specification the RTL is checked against."""
