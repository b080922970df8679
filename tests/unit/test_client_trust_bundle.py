"""Checks the client-trust-bundle rule: TLS clients that reject a server's chain as signed by an
unknown authority (Go, Java PKIX, Node.js wording, as ``kubetriage.tls_errors`` reads them),
while the CA file they are told to trust (``SSL_CERT_FILE``, ``NODE_EXTRA_CA_CERTS``, an app's
``*_CA_FILE``, Java's ``-Djavax.net.ssl.trustStore``) lies in a ConfigMap the container mounts
(as a directory or by ``subPath``), lack that CA in that bundle: config-missing, fix-config on
the ConfigMap. Nothing is concluded when the trusted file is in a Secret, when the env var does
not name a CA file, when the failure is an expired certificate rather than an unknown
authority, or when no TLS failure is logged.

Real: the analyzer registry on Evidence models (tests/support/evidence.py factories); the log
lines are the libraries' own wording.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.object_evidence import ConfigMount, ContainerEvidence
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, app_evidence, assert_leads, container

POD = "invoice-api-6d8f9c7b5-k2x9q"
BUNDLE = ObjectRef(kind="ConfigMap", namespace="shop", name="internal-ca-bundle")
GO_UNKNOWN = (
    'level=ERROR msg="ledger post failed" err="Post \\"https://ledger.ledger.svc:8443/v1\\": '
    "tls: failed to verify certificate: x509: certificate signed by unknown authority "
    '(possibly because of \\"crypto/rsa: verification error\\" while trying to verify '
    'candidate authority certificate \\"Internal Root CA 2021\\")"'
)
JAVA_PKIX = (
    "javax.net.ssl.SSLHandshakeException: PKIX path building failed: "
    "sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid "
    "certification path to requested target"
)
GO_EXPIRED = (
    'level=ERROR msg="ledger post failed" err="tls: failed to verify certificate: x509: '
    'certificate has expired or is not yet valid"'
)


def _client(env: dict[str, str], *mounts: ConfigMount) -> ContainerEvidence:
    return container("app", env=env, config_mounts=list(mounts))


def _mount(kind: str = "ConfigMap", path: str = "/etc/ssl/internal", **fields: str) -> ConfigMount:
    return ConfigMount(path=path, kind=kind, name=BUNDLE.name, **fields)


def _rule(app: ContainerEvidence, line: str) -> list[str]:
    result = analyze(app_evidence(POD, app, logs=line))
    return [f.analyzer for f in result.findings if f.analyzer == "client-trust-bundle"]


def test_go_client_trusting_a_configmap_bundle_lacks_the_new_ca() -> None:
    app = _client({"SSL_CERT_FILE": "/etc/ssl/internal/ca-bundle.pem"}, _mount())
    first = assert_leads(
        analyze(app_evidence(POD, app, logs=GO_UNKNOWN)),
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        BUNDLE,
    )
    assert first.analyzer == "client-trust-bundle"
    assert any("/etc/ssl/internal/ca-bundle.pem" in e.fact for e in first.evidence)


def test_java_trust_store_in_tool_options() -> None:
    options = "-Djavax.net.ssl.trustStore=/etc/pki/trust/store.p12 -XX:MaxRAMPercentage=70"
    app = _client({"JAVA_TOOL_OPTIONS": options}, _mount(path="/etc/pki/trust"))
    assert_leads(
        analyze(app_evidence(POD, app, logs=JAVA_PKIX)),
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        BUNDLE,
    )


def test_subpath_mounted_extra_ca_file() -> None:
    path = "/usr/local/share/extra-ca.pem"
    app = _client({"NODE_EXTRA_CA_CERTS": path}, _mount(path=path, sub_path="ca.pem"))
    node = "Error: unable to get local issuer certificate code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'"
    assert _rule(app, node) == ["client-trust-bundle"]


def test_app_specific_ca_file_variable() -> None:
    app = _client({"LEDGER_CA_FILE": "/etc/ssl/internal/ca.crt"}, _mount())
    assert _rule(app, GO_UNKNOWN) == ["client-trust-bundle"]


def test_ca_file_in_a_secret_is_not_this_rule() -> None:
    app = _client({"SSL_CERT_FILE": "/etc/ssl/internal/ca.crt"}, _mount(kind="Secret"))
    assert _rule(app, GO_UNKNOWN) == []


def test_expired_certificate_is_not_a_missing_ca() -> None:
    app = _client({"SSL_CERT_FILE": "/etc/ssl/internal/ca-bundle.pem"}, _mount())
    assert _rule(app, GO_EXPIRED) == []


def test_a_config_file_variable_is_not_a_trust_store() -> None:
    app = _client({"APP_CONFIG_FILE": "/etc/ssl/internal/app.yaml"}, _mount())
    assert _rule(app, GO_UNKNOWN) == []


def test_no_tls_failure_no_finding() -> None:
    app = _client({"SSL_CERT_FILE": "/etc/ssl/internal/ca-bundle.pem"}, _mount())
    assert _rule(app, 'level=INFO msg="ledger post ok" ms=41') == []
