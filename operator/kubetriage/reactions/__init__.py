"""What the operator does when an Incident changes, without Kopf: one plain async function per
handler, taking the operator's context and the Incident as plain data and returning what the
handler must tell Kopf (a ``Failure``, the remediation ``Outcome``). ``kubetriage.handlers``
registers them with Kopf and adapts Kopf's arguments, Events and errors.

- ``context``: ``OperatorContext``, the Incident as a handler sees it, ``Failure``;
- ``diagnosis``: diagnose an Incident (the phase machine around ``pipeline.diagnose``);
- ``learning``: store a resolved Incident's feedback in incident memory;
- ``approval``: execute an approved remediation;
- ``bookkeeping``: acknowledge a generation, keep the metrics index, enqueue notifications.
"""
