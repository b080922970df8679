"""One summary per kind of object: raw Kubernetes JSON in, one bounded model of
``kubetriage.models.evidence`` out. Pure; called by ``kubetriage.evidence.build``."""
