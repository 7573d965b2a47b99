"""Register/event transports (model, sim, uart, pcie). Not built yet."""
