"""The OMS, the book of record: orders (orders.py), positions and P&L (positions.py), the
journal (journal.py), and the service on the bus that ties them together (oms.py)."""
