"""Naming sources (where a walk found a name) stated in the walk's own words, built with
the product's constructors.
"""

from __future__ import annotations

from kubetriage.models.naming import (
    NamingSource,
    args_source,
    config_map_source,
    env_source,
    event_source,
    log_source,
    route_source,
)


def named(text: str) -> NamingSource:
    """One naming source in the walk's own words (``naming``)."""
    return naming(text)[0]


def naming(*texts: str) -> list[NamingSource]:
    """The naming sources a test states in the walk's own words ("log ns/pod/container",
    "pod x env VAR", "Deployment x args", "event Pod/x Reason", "ConfigMap x"; anything
    else is a route's words), built with the product's constructors: a word that does not
    round-trip to the same text fails the test here, not in an analyzer."""
    found: list[NamingSource] = []
    for text in texts:
        head, _, rest = text.partition(" ")
        words = text.split(" ")
        if head == "log" and rest.count("/") == 2 and " " not in rest:
            source = log_source(*rest.split("/"))
        elif head == "event" and len(words) == 3 and "/" in words[1]:
            kind, _, name = words[1].partition("/")
            source = event_source(kind, name, words[2])
        elif head == "ConfigMap" and len(words) == 2:
            source = config_map_source(rest)
        elif len(words) == 4 and words[2] == "env":
            source = env_source(words[0], words[1], words[3])
        elif len(words) == 3 and words[2] == "args":
            source = args_source(words[0], words[1])
        else:
            source = route_source(text)
        assert source.text == text, (source.text, text)
        found.append(source)
    return found
