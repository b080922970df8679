"""The Alertmanager webhook receiver: alert groups become Incidents.

``payload`` validates the webhook body, ``state`` decides what to write (pure), ``queue``
bounds and orders the work, ``writer`` talks to the API server, ``server`` is the aiohttp
app that ``kubetriage run`` serves next to the operator. See docs/alertmanager.md.
"""

from kubetriage.receiver.server import (
    Receiver,
    ReceiverConfigError,
    ReceiverStats,
    receiver_token,
)

__all__ = ["Receiver", "ReceiverConfigError", "ReceiverStats", "receiver_token"]
