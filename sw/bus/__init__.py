"""The message bus of the trading loop: typed FIX-named events by topic, in process or over NATS.

Services publish and subscribe `sw.bus.events` through one `Bus` API (`sw.bus.transport`), whose
transports are in-process (`sw.bus.local`, the default) and NATS (`sw.bus.broker`, with the
project's own server from `sw.bus.server` and a JetStream drop copy of executions). Wire format:
`sw.bus.wire`. docs/bus.md is the guide.
"""

from sw.bus.events import Event, Topic
from sw.bus.transport import Bus, BusError, Handler, Subscription, SubscriptionStats, open_bus
from sw.bus.wire import WireError

__all__ = ["Bus", "BusError", "Event", "Handler", "Subscription", "SubscriptionStats", "Topic",
           "WireError", "open_bus"]
