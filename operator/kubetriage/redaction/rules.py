"""The ordered credential rules ``redact_text`` (``text.py``) applies, as a table.

The rules are ordered: exact vendor shapes first (so the placeholder says what leaked), then
structural forms (URLs with credentials, Authorization headers), then ``key=value`` pairs
whose key names a secret (``keys.py``). Every pattern is compiled once and written to run in
linear time: character classes are disjoint from what follows them and every open-ended
repeat is bounded, so a hostile 10 MB log cannot stall a diagnosis. Placeholders never match
any rule, which makes ``redact_text`` idempotent. Each rule also names the literals it
cannot match without, so the engine can skip a text with none of them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

from kubetriage.redaction.key_values import KEY_STEMS, redact_key_values
from kubetriage.redaction.keys import (
    PLACEHOLDER_PREFIX,
    is_benign_value,
    is_secret_key,
    kind_for_key,
    looks_random,
    placeholder,
    reads_as_prose,
    word_set,
)

# Speed: Python's regex engine skips ahead to candidate positions only when a pattern opens
# with a literal or a character class. So no pattern here opens with a look-behind; the
# "starts a token" check sits right after the opening literal (``_token_start``) instead.


@dataclass(frozen=True)
class Rule:
    """One rule: how it rewrites a text, and the literals it cannot match without (at least
    one of ``needles`` in the text, or of ``folded`` in the lower-cased text): a text with
    none of any rule's literals is left as it is without running a single pattern."""

    name: str
    apply: Callable[[str], str]
    needles: tuple[str, ...] = ()
    folded: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.needles and not self.folded:
            raise ValueError(f"rule {self.name} names no literal it needs")
        if any(n != n.lower() for n in self.folded):
            raise ValueError(f"rule {self.name}: folded literals are lower case")


def _sub(
    name: str,
    pattern: re.Pattern[str],
    replace: Callable[[re.Match[str]], str],
    *needles: str,
    folded: tuple[str, ...] = (),
) -> Rule:
    return Rule(name, lambda text: pattern.sub(replace, text), needles, folded)


def _whole(kind: str) -> Callable[[re.Match[str]], str]:
    mask = placeholder(kind)
    return lambda _match: mask


def _token_start(literal: str, not_after: str = "[A-Za-z0-9]") -> str:
    """``literal``, matched only where no ``not_after`` character precedes it."""
    escaped = re.escape(literal)
    return f"{escaped}(?<!{not_after}{escaped})"


# PEM private keys. The body may not contain "--", so a scan that starts at one BEGIN stops
# at the next armour line: each character is looked at by one BEGIN at most.
_PEM_BEGIN = r"-----BEGIN [A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END [A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?-----"
_PEM_BLOCK_RE = re.compile(_PEM_BEGIN + r"(?:[^-]|-(?!-)){0,200000}" + _PEM_END)
# A key cut off by a log-line or byte limit: mask the header and the base64 that follows.
_PEM_ORPHAN_RE = re.compile(_PEM_BEGIN + r"(?:\\[nr]|[A-Za-z0-9+/=\s]){0,200000}")
PEM_BEGIN_RE = re.compile(_PEM_BEGIN)
PEM_END_RE = re.compile(_PEM_END)

# base64 of "-----BEGIN" (kubeconfig client-key-data, Secret manifests): private only if the
# decoded armour says so; certificates are public and stay.
_B64_PEM_RE = re.compile(
    _token_start("LS0tLS1CRUdJTi", "[A-Za-z0-9+/]") + r"[A-Za-z0-9+/]{20,}={0,2}"
)


def _replace_b64_pem(match: re.Match[str]) -> str:
    head = match.group(0)[:80]
    try:
        decoded = base64.b64decode(head[: len(head) - len(head) % 4])
    except (binascii.Error, ValueError):
        return match.group(0)
    return placeholder("private-key") if b"PRIVATE KEY" in decoded else match.group(0)


# base64 of '{"auths":', '{\n  "auths":' and '{ "auths":' (a .dockerconfigjson).
_DOCKER_CONFIG_B64_RE = re.compile(
    _token_start("e", "[A-Za-z0-9+/]")
    + r"(?:yJhdXRocyI6|wogICJhdXRocyI6|yAiYXV0aHMiOi)[A-Za-z0-9+/]{0,1000000}={0,2}"
)

# JWTs (header and payload are base64url JSON objects, so both start with "eyJ").
_JWT_RE = re.compile(
    _token_start("eyJ", "[A-Za-z0-9_-]")
    + r"[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+){0,2}"
)


def _replace_jwt(match: re.Match[str]) -> str:
    payload = match.group(0).split(".")[1][:600]
    payload += "=" * (-len(payload) % 4)
    try:
        claims = base64.urlsafe_b64decode(payload)
    except (binascii.Error, ValueError):
        claims = b""
    if b"kubernetes.io" in claims or b"kubernetes/serviceaccount" in claims:
        return placeholder("kubernetes-sa-token")
    return placeholder("jwt")


# Vendor token shapes: (placeholder type, opening literal, rest). Order matters where
# openings overlap (sk-ant- before sk-).
_VENDOR_SHAPES: tuple[tuple[str, str, str], ...] = (
    ("anthropic-api-key", "sk-ant-", r"[A-Za-z0-9_-]{20,}"),
    ("openai-api-key", "sk-", r"(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{32,})"),
    ("stripe-key", "sk_", r"(?:live|test)_[A-Za-z0-9]{10,}"),
    ("stripe-key", "rk_", r"(?:live|test)_[A-Za-z0-9]{10,}"),
    ("stripe-key", "whsec_", r"[A-Za-z0-9+/=]{20,}"),
    (
        "aws-access-key",
        "A",
        r"(?:KIA|SIA|GPA|IDA|ROA|IPA|NPA|NVA|BIA|CCA)[A-Z0-9]{16}(?![A-Za-z0-9])",
    ),
    ("gcp-api-key", "AIza", r"[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])"),
    ("gcp-oauth-token", "ya29.", r"[0-9A-Za-z_-]{20,}"),
    ("gcp-client-secret", "GOCSPX-", r"[A-Za-z0-9_-]{20,}"),
    ("github-token", "gh", r"[pousr]_[A-Za-z0-9]{36,255}"),
    ("github-token", "github_pat_", r"[A-Za-z0-9_]{22,255}"),
    (
        "gitlab-token",
        "gl",
        r"(?:pat|dt|rt|ptt|cbt|imt|agent|oas|soat|ffct)-[A-Za-z0-9_-]{20,}",
    ),
    ("gitlab-token", "GR1348941", r"[A-Za-z0-9_-]{20,}"),
    ("grafana-token", "gl", r"(?:c_[A-Za-z0-9+/=_-]{32,}|sa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})"),
    ("slack-token", "xox", r"[abposre]-[A-Za-z0-9-]{10,}"),
    ("slack-token", "xapp-", r"[0-9]-[A-Za-z0-9-]{10,}"),
    ("sendgrid-api-key", "SG.", r"[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}"),
    ("twilio-api-key", "SK", r"[0-9a-fA-F]{32}(?![A-Za-z0-9])"),
    ("npm-token", "npm_", r"[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
    ("pypi-token", "pypi-", r"[A-Za-z0-9_-]{50,}"),
    ("vault-token", "hv", r"[sbr]\.[A-Za-z0-9_-]{24,}"),
    ("huggingface-token", "hf_", r"[A-Za-z0-9]{30,}"),
    ("newrelic-api-key", "NR", r"(?:AK|II|JS|AA)-[A-Za-z0-9]{20,}"),
    ("databricks-token", "dapi", r"[0-9a-f]{32}(?:-[0-9])?(?![A-Za-z0-9])"),
    ("digitalocean-token", "do", r"[por]_v1_[a-f0-9]{64}"),
    ("shopify-token", "shp", r"(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"),
    ("mailgun-api-key", "key-", r"[0-9a-f]{32}(?![A-Za-z0-9])"),
    ("doppler-token", "dp.", r"(?:st|ct|pt|sa|scim|audit)\.[A-Za-z0-9_.-]{40,}"),
    ("atlassian-token", "ATATT3", r"[A-Za-z0-9_=-]{100,}"),
    ("age-secret-key", "AGE-SECRET-KEY-1", r"[0-9A-Z]{58}"),
    ("postman-api-key", "PMAK-", r"[a-f0-9]{24}-[a-f0-9]{34}"),
)

# What a vendor shape whose opening is shorter than three characters cannot match without
# (its opening followed by the literal starts its ``rest`` allows); other shapes need their
# opening.
_SHORT_OPENINGS = {
    "A": tuple(f"A{x}" for x in word_set("KIA SIA GPA IDA ROA IPA NPA NVA BIA CCA")),
    "gh": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "gl": (
        *(f"gl{x}-" for x in word_set("pat dt rt ptt cbt imt agent oas soat ffct")),
        "glc_",
        "glsa_",
    ),
    "SK": ("SK",),
    "NR": ("NRAK-", "NRII-", "NRJS-", "NRAA-"),
    "hv": ("hvs.", "hvb.", "hvr."),
    "do": ("dop_v1_", "doo_v1_", "dor_v1_"),
}

# Telegram bot tokens are "<bot id>:AA<secret>"; the id is not secret and stays.
_TELEGRAM_RE = re.compile(r":AA(?<=[0-9]{8}:AA)[A-Za-z0-9_-]{33}(?![A-Za-z0-9_-])")

# Azure AD client secrets: three characters, a digit, "Q~", then 31-34 characters. The
# pattern opens at "Q~" (a literal, so scanning is fast); the four characters before it are
# part of the secret, so ``_mask_with_lead`` widens each match to the left.
_AZURE_SECRET_LEAD = 4
_AZURE_SECRET_RE = re.compile(
    r"Q~(?<=[A-Za-z0-9_~.]{3}[0-9]Q~)(?<![A-Za-z0-9_~.]{4}[0-9]Q~)"
    r"[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])"
)


def _mask_with_lead(text: str) -> str:
    pieces: list[str] = []
    last = 0
    for match in _AZURE_SECRET_RE.finditer(text):
        start = match.start() - _AZURE_SECRET_LEAD
        if start < last:
            continue
        pieces.extend((text[last:start], placeholder("azure-client-secret")))
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)


# Chat webhooks: the path is the credential; keep the host so the reader knows what it was.
_WEBHOOK_RE = re.compile(
    r"(?P<keep>https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/"
    r"|(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/"
    r"|[A-Za-z0-9-]{1,63}\.webhook\.office\.com/webhookb2/))"
    r"(?P<secret>(?!\[REDACTED:)[A-Za-z0-9/_@.-]{8,2048})"
)


def _replace_webhook(match: re.Match[str]) -> str:
    host = match.group("keep")
    if "slack" in host:
        kind = "slack-webhook"
    elif "office.com" in host:
        kind = "teams-webhook"
    else:
        kind = "discord-webhook"
    return host + placeholder(kind)


# scheme://user:password@host: keep scheme, user and host (they are evidence). The match
# opens at "://" and checks for a scheme behind it.
_URL_SCHEME_SEP = r"://(?<=[A-Za-z0-9+.-]://)"
_URL_CREDENTIALS_RE = re.compile(
    r"(?P<prefix>" + _URL_SCHEME_SEP + r"[^\s:/@?#\"'<>\[\]]{0,256}:)"
    r"(?!\[REDACTED:)(?P<password>[^\s/@?#\"'<>]{1,256})(?=@[^\s@/])"
)
# scheme://token@host: only when the user part looks like a token (Sentry DSN, git remote).
_URL_TOKEN_USER_RE = re.compile(
    r"(?P<prefix>" + _URL_SCHEME_SEP + r")(?P<user>[A-Za-z0-9_.~%-]{16,256})(?=@[^\s@/])"
)


def _replace_url_password(match: re.Match[str]) -> str:
    return match.group("prefix") + placeholder("password")


def _replace_url_token_user(match: re.Match[str]) -> str:
    if not looks_random(match.group("user")):
        return match.group(0)
    return match.group("prefix") + placeholder("url-credential")


_AUTH_SCHEMES = (
    "bearer",
    "basic",
    "token",
    "digest",
    "negotiate",
    "ntlm",
    "apikey",
    "api-key",
    "aws4-hmac-sha256",
    "hmac",
    "sso-key",
    "key",
    "splunk",
    "dsn",
)
_AUTH_SCHEME_SET = frozenset(_AUTH_SCHEMES)
# "Proxy-Authorization" matches at its "Authorization" (a "-" may precede it).
_AUTH_HEADER_RE = re.compile(
    r"(?P<head>[Aa](?<![A-Za-z0-9_][Aa])(?i:uthorization)\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?)"
    r"(?i:(?P<scheme>" + "|".join(re.escape(s) for s in _AUTH_SCHEMES) + r")[ \t]+)?"
    r"(?P<cred>(?!\[REDACTED:)[^\s\"'<>,;\\]{1,4096})"
)


def _replace_auth_header(match: re.Match[str]) -> str:
    scheme, cred = match.group("scheme"), match.group("cred")
    if scheme is None and cred.lower() in _AUTH_SCHEME_SET:
        return match.group(0)  # "Authorization: Bearer" with the token already masked
    if reads_as_prose(cred, match.string, match.end()):
        return match.group(0)  # "may require authorization: server message: ..."
    lowered = (scheme or "").lower()
    kind = {"bearer": "bearer-token", "basic": "basic-auth"}.get(lowered, "authorization")
    prefix = match.group("head") + (f"{scheme} " if scheme else "")
    return prefix + placeholder(kind)


_BEARER_RE = re.compile(
    r"(?P<head>[Bb](?<![A-Za-z0-9_-][Bb])(?i:earer)[ \t]+)"
    r"(?P<cred>[A-Za-z0-9._~+/-]{8,4096}={0,2})"
)


def _replace_bearer(match: re.Match[str]) -> str:
    if not looks_random(match.group("cred")):
        return match.group(0)
    return match.group("head") + placeholder("bearer-token")


# curl -u user:password / --user user:password
_CLI_USER_RE = re.compile(
    r"(?P<head>-(?<!\S-)(?:u|-user)[ \t]+[\"']?[^\s:\"']{1,128}:)"
    r"(?!\[REDACTED:)(?P<password>[^\s\"']{1,256})"
)


def _replace_cli_user(match: re.Match[str]) -> str:
    return match.group("head") + placeholder("password")


# Kubernetes env entries, where the key is a separate "name" field: JSON
# ({"name":"DB_PASSWORD","value":"..."} in last-applied-configuration) and YAML.
_ENV_JSON_RE = re.compile(
    r"(?P<head>\"name\\?\"[ \t]*:[ \t]*\\?\"(?P<key>[A-Za-z0-9_.-]{1,128})\\?\"[ \t]*,[ \t]*"
    r"\\?\"value\\?\"[ \t]*:[ \t]*\\?\")(?P<value>(?:[^\"\\\n]|\\[^\"\n]){1,4096})(?=\\?\")"
)
_ENV_YAML_RE = re.compile(
    r"(?P<head>"
    + _token_start("name:", "[A-Za-z0-9_-]")
    + r"[ \t]*[\"']?(?P<key>[A-Za-z0-9_.-]{1,128})[\"']?[ \t]*\r?\n[ \t]*value:[ \t]*)"
    r"(?P<value>[^\n]{1,4096})"
)


def _replace_env_entry(match: re.Match[str]) -> str:
    key, value = match.group("key"), match.group("value").strip()
    bare = value.strip("\"'")
    if not is_secret_key(key) or is_benign_value(bare) or PLACEHOLDER_PREFIX in value:
        return match.group(0)
    return match.group("head") + placeholder(kind_for_key(key))


# <key>value</key>: a secret-named XML element.
_XML_SECRET_RE = re.compile(r"<(?P<key>[A-Za-z0-9_.-]{1,128})>(?P<value>[^<]{1,4096})</(?P=key)>")


def _replace_xml(match: re.Match[str]) -> str:
    key, value = match.group("key"), match.group("value")
    if not is_secret_key(key) or is_benign_value(value.strip()) or PLACEHOLDER_PREFIX in value:
        return match.group(0)
    return f"<{key}>{placeholder(kind_for_key(key))}</{key}>"


def _vendor_rule(kind: str, opening: str, rest: str) -> Rule:
    pattern = re.compile(_token_start(opening) + rest)
    return _sub(kind, pattern, _whole(kind), *_SHORT_OPENINGS.get(opening, (opening,)))


RULES: tuple[Rule, ...] = (
    _sub("pem-block", _PEM_BLOCK_RE, _whole("private-key"), "-----BEGIN "),
    _sub("pem-orphan", _PEM_ORPHAN_RE, _whole("private-key"), "-----BEGIN "),
    _sub("pem-base64", _B64_PEM_RE, _replace_b64_pem, "LS0tLS1CRUdJTi"),
    _sub(
        "docker-config",
        _DOCKER_CONFIG_B64_RE,
        _whole("docker-config"),
        "eyJhdXRocyI6",
        "ewogICJhdXRocyI6",
        "eyAiYXV0aHMiOi",
    ),
    _sub("jwt", _JWT_RE, _replace_jwt, "eyJ"),
    *(_vendor_rule(kind, opening, rest) for kind, opening, rest in _VENDOR_SHAPES),
    _sub(
        "telegram-bot-token",
        _TELEGRAM_RE,
        lambda _m: ":" + placeholder("telegram-bot-token"),
        ":AA",
    ),
    Rule("azure-client-secret", _mask_with_lead, ("Q~",)),
    _sub("webhook", _WEBHOOK_RE, _replace_webhook, "://"),
    _sub("url-password", _URL_CREDENTIALS_RE, _replace_url_password, "://"),
    _sub("url-token-user", _URL_TOKEN_USER_RE, _replace_url_token_user, "://"),
    _sub("authorization", _AUTH_HEADER_RE, _replace_auth_header, folded=("authorization",)),
    _sub("bearer", _BEARER_RE, _replace_bearer, folded=("bearer",)),
    _sub("cli-user", _CLI_USER_RE, _replace_cli_user, "-u", "--user"),
    _sub("env-json", _ENV_JSON_RE, _replace_env_entry, '"name'),
    _sub("env-yaml", _ENV_YAML_RE, _replace_env_entry, "name:"),
    _sub("xml", _XML_SECRET_RE, _replace_xml, "</"),
    Rule("key-value", redact_key_values, folded=KEY_STEMS),
)
