"""Notifications: Slack (one message per Incident, updated in place, with buttons that
write feedback and approvals back), Microsoft Teams Adaptive Cards and CloudEvents.

- ``content``: the redacted ``Notice`` every sink renders, and stable transition keys
- ``plan``: routing, minimum confidence, quiet period, what to send (pure)
- ``slack`` / ``webhooks``: renderings and the small I/O adapters
- ``notifier``: the background worker the handlers enqueue into; records what was sent in
  ``status.notifications`` and a ``Notified`` condition
- ``interactions``: the Slack interactivity endpoint (signed requests only)
"""
