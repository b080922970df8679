"""Where a service's tokens come from: the dependency its env names as the issuer of the
tokens it accepts or the publisher of their signing keys (``JWKS_URL``, ``OIDC_ISSUER``...),
when the service's own logs reject tokens whose signature does not verify. A token issuer
that starts signing with a key it does not publish (a rotation done in the wrong order) breaks
every service that verifies its tokens, while each of them only logs "signature invalid" or
"kid not found" and no failing call names the issuer's host.

Pure functions of Evidence; used by the dependency-change rule (``dependencies``).
"""

from __future__ import annotations

import re

from kubetriage.analyzers.log_signatures import TOKEN_VERIFY_LOG
from kubetriage.analyzers.support import grep_logs, item
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import EvidenceItem
from kubetriage.models.relations import DependencyEvidence

# An env variable through which a service is told where its tokens' issuer and signing keys
# are: JWKS_URL, OIDC_ISSUER, AUTH_SERVER_URL, TOKEN_SERVICE_HOST, ...
_KEY_SOURCE_ENV = re.compile(r"(?i)(jwk|jwt|oidc|openid|issuer|oauth|token|auth|certs)")


def token_issuer(evidence: Evidence, dependency: DependencyEvidence) -> EvidenceItem | None:
    """The caller's log line rejecting a token whose signature it cannot verify, when the
    caller's env names ``dependency`` as where its tokens or signing keys come from (the
    issuer, its JWKS): the issuer's keys are what the caller fails on, though no failing
    call names its host."""
    issuer = any(
        source.kind == "env" and _KEY_SOURCE_ENV.search(source.variable or "")
        for source in dependency.named_by
    )
    if not issuer:
        return None
    hits = grep_logs(evidence.logs, TOKEN_VERIFY_LOG, limit=1)
    return item(hits[0].source, hits[0].line) if hits else None
