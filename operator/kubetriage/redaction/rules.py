"""Credential redaction of text: the secret key names, the value heuristics and the ordered
rules ``redact_text`` applies.

``redact_text`` masks secrets with a typed placeholder (``[REDACTED:github-token]``) while
keeping the text around them readable, because the rest of the line is evidence. The rules
are ordered: exact vendor shapes first (so the placeholder says what leaked), then structural
forms (URLs with credentials, Authorization headers), then ``key=value`` pairs whose key
names a secret. Every pattern is compiled once and written to run in linear time: character
classes are disjoint from what follows them and every open-ended repeat is bounded, so a
hostile 10 MB log cannot stall a diagnosis. Placeholders never match any rule, which makes
``redact_text`` idempotent. Each rule also names the literals it cannot match without, so
a text with none of them (most names, reasons and timestamps in evidence) is returned as it
is without running any pattern. Mostly rule tables; the model walk is in ``walk.py``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

PLACEHOLDER_PREFIX = "[REDACTED:"


def placeholder(kind: str) -> str:
    """The mask written in place of a secret, e.g. ``[REDACTED:aws-access-key]``."""
    return f"{PLACEHOLDER_PREFIX}{kind}]"


# --------------------------------------------------------------------------------------
# Secret key names
# --------------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# A word ending in one of these names a secret ("DB_PASSWORD", "csrftoken", "AccountKey"
# splits into words first, so these catch the run-together spellings too).
_SECRET_WORD_SUFFIXES = tuple(
    _words(
        "password passwords passwd passphrase secret secrets token apikey accesskey "
        "privatekey privkey secretkey accountkey licensekey credential credentials creds"
    )
)
# Too short or too common to match as suffixes ("bypass", "design"), so whole words only.
_SECRET_WORDS = frozenset(
    {"pwd", "pw", "pass", "auth", "authorization", "dsn", "sig", "signature", "cookie"}
)
# Adjacent word pairs that name a secret although neither word does alone.
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("access", "key"),
        ("private", "key"),
        ("account", "key"),
        ("app", "key"),
        ("application", "key"),
        ("license", "key"),
        ("master", "key"),
        ("encryption", "key"),
        ("signing", "key"),
        ("shared", "key"),
        ("storage", "key"),
        ("subscription", "key"),
        ("ingest", "key"),
        ("session", "key"),
        ("client", "key"),
        ("tls", "key"),
        ("ssh", "key"),
    }
)
# Keys whose value is a connection URL that normally embeds credentials.
_SECRET_URL_PAIRS = frozenset(
    {
        ("database", "url"),
        ("database", "uri"),
        ("db", "url"),
        ("db", "uri"),
        ("mongo", "url"),
        ("mongo", "uri"),
        ("mongodb", "url"),
        ("mongodb", "uri"),
        ("postgres", "url"),
        ("mysql", "url"),
        ("connection", "string"),
        ("conn", "string"),
        ("conn", "str"),
        ("webhook", "url"),
        ("sas", "url"),
    }
)
# A key ending in one of these describes a secret rather than holding it
# ("secretName", "token_expiry", "password_file", "AUTH_MODE").
_DESCRIPTIVE_LAST_WORDS = _words(
    "name names ref refs file files path dir type kind length len size ttl expiry expires "
    "expiration expire expired timeout at time timestamp date age days seconds mode "
    "method methods provider enabled enable disabled required url uri endpoint host "
    "hostname port user username count policy version rotation format algorithm alg "
    "scheme server issuer audience namespace source store mount volume selector status "
    "state error errors reason message msg field fields limit used max min"
)
# The shell's working directory, not a password.
_NON_SECRET_EXACT_KEYS = frozenset({"PWD", "OLDPWD"})

_KEY_WORD_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _key_words(key: str) -> list[str]:
    return [word.lower() for word in _KEY_WORD_RE.findall(key)]


def _is_secret_word(word: str) -> bool:
    return word in _SECRET_WORDS or word.endswith(_SECRET_WORD_SUFFIXES)


def _url_pair(words: Sequence[str]) -> bool:
    return len(words) >= 2 and (words[-2], words[-1]) in _SECRET_URL_PAIRS


def is_secret_key(key: str) -> bool:
    """Whether a variable, header, annotation or field name says its value is a secret."""
    if key.strip("-_") in _NON_SECRET_EXACT_KEYS:
        return False
    words = _key_words(key)
    if not words:
        return False
    if _url_pair(words):
        return True
    if words[-1] in _DESCRIPTIVE_LAST_WORDS:
        return False
    if any(_is_secret_word(word) for word in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in pairwise(words))


_API_KEY_PAIRS = frozenset(
    {("api", "key"), ("license", "key"), ("app", "key"), ("application", "key"), ("ingest", "key")}
)
_ACCESS_KEY_PAIRS = frozenset(
    {("access", "key"), ("account", "key"), ("shared", "key"), ("storage", "key")}
)


def _kind_for_key(key: str) -> str:
    """The placeholder type for a value found under ``key`` (assumed secret)."""
    words = _key_words(key)
    pairs = set(pairwise(words))
    if "aws" in words and any(w.endswith("token") for w in words):
        return "aws-session-token"
    if "aws" in words and "secret" in words:
        return "aws-secret-key"
    if any(
        w.endswith(("password", "passwd", "passphrase")) or w in {"pwd", "pw", "pass"}
        for w in words
    ):
        return "password"
    if _url_pair(words) or "dsn" in words:
        return "connection-string"
    if ("private", "key") in pairs or any(w.endswith(("privatekey", "privkey")) for w in words):
        return "private-key"
    if any(w.endswith("token") for w in words):
        return "token"
    if pairs & _API_KEY_PAIRS or any(w.endswith(("apikey", "licensekey")) for w in words):
        return "api-key"
    if pairs & _ACCESS_KEY_PAIRS or any(w.endswith(("accesskey", "accountkey")) for w in words):
        return "access-key"
    if "sig" in words or "signature" in words:
        return "signature"
    if "cookie" in words:
        return "cookie"
    return "secret"


# --------------------------------------------------------------------------------------
# Value heuristics
# --------------------------------------------------------------------------------------

# Values under a secret-looking key that are flags, nulls or already masked.
_BENIGN_VALUES = frozenset({""}) | _words(
    "true false yes no on off enabled disabled none null nil <nil> undefined required "
    "optional redacted <redacted> [redacted] hidden <hidden> [hidden] [filtered] -"
)
_LINE_INDENT_RE = re.compile(r"[ \t]*")
_MASKED_VALUE_RE = re.compile(r"\*+|[xX]{3,}|•+")
# A single ordinary word or an HTTP status: in "failed to refresh token: context deadline
# exceeded" the "value" is prose, and hiding it would hide the error.
_PROSE_WORD_RE = re.compile(r"[A-Za-z][a-z]*(?:['-][a-z]+)*|[0-9]{1,3}")
_PROSE_CONTINUES_RE = re.compile(r"[ \t]+[\"'A-Za-z0-9(]")


def _is_benign_value(value: str) -> bool:
    return value.lower() in _BENIGN_VALUES or _MASKED_VALUE_RE.fullmatch(value) is not None


def _reads_as_prose(value: str, text: str, end: int) -> bool:
    """A ``key: value`` whose value is one plain word followed by more words is a sentence."""
    return (
        _PROSE_WORD_RE.fullmatch(value) is not None
        and _PROSE_CONTINUES_RE.match(text, end) is not None
    )


def _looks_random(value: str) -> bool:
    """A token-like string: long, or mixing letters with digits or cases."""
    if len(value) >= 24:
        return True
    if len(value) < 8:
        return False
    has_digit = any(c.isdigit() for c in value)
    has_upper = any(c.isupper() for c in value)
    has_lower = any(c.islower() for c in value)
    return (has_digit and (has_upper or has_lower)) or (has_upper and has_lower)


# --------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------
#
# Speed: Python's regex engine skips ahead to candidate positions only when a pattern opens
# with a literal or a character class. So no pattern here opens with a look-behind; the
# "starts a token" check sits right after the opening literal (``_token_start``) instead.


@dataclass(frozen=True)
class _Rule:
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
) -> _Rule:
    return _Rule(name, lambda text: pattern.sub(replace, text), needles, folded)


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
_PEM_BEGIN_RE = re.compile(_PEM_BEGIN)
_PEM_END_RE = re.compile(_PEM_END)

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
    "A": tuple(f"A{x}" for x in _words("KIA SIA GPA IDA ROA IPA NPA NVA BIA CCA")),
    "gh": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "gl": (
        *(f"gl{x}-" for x in _words("pat dt rt ptt cbt imt agent oas soat ffct")),
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
    if not _looks_random(match.group("user")):
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
    if _reads_as_prose(cred, match.string, match.end()):
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
    if not _looks_random(match.group("cred")):
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
    if not is_secret_key(key) or _is_benign_value(bare) or PLACEHOLDER_PREFIX in value:
        return match.group(0)
    return match.group("head") + placeholder(_kind_for_key(key))


# key=value, key: value, "key": "value", <key>value</key>. A key is a candidate only if it
# contains one of these stems; ``is_secret_key`` then decides on the whole name. The stem
# pattern opens with a character class so the engine can skip between candidates.
_KEY_STEM_RE = re.compile(
    r"[PpSsTtKkCcAaDd](?i:(?<=p)(?:ass|wd?)|(?<=s)(?:ecret|ig)|(?<=t)oken|(?<=k)ey"
    r"|(?<=c)(?:red|ookie)|(?<=a)uth|(?<=d)sn)"
)
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_KEY_PREFIX = 64
_KEY_TOKEN_BREAK_RE = re.compile(r"[^A-Za-z0-9_.-]")
_KEY_VALUE_RE = re.compile(
    r"(?P<key>[A-Za-z0-9_.-]{1,160})"
    r"(?P<sep>\\?[\"']?[ \t]*(?:=>|:=|[:=])[ \t]*)"
    r"(?:\\\"(?P<escaped>[^\"\\\n]{0,4096})\\\""
    r"|\"(?P<dquoted>(?:[^\"\\\n]|\\.){0,4096})\""
    r"|'(?P<squoted>[^'\n]{0,4096})'"
    r"|(?P<reference>\$\{[^}\s]{0,128}\}|\$\([^)\s]{0,128}\))"
    r"|(?P<block>[|>][+-]?(?=[ \t]*\r?\n))"
    r"|(?P<bare>[^\s\"'<>,;&{}()`]{1,4096}))"
)
_XML_SECRET_RE = re.compile(r"<(?P<key>[A-Za-z0-9_.-]{1,128})>(?P<value>[^<]{1,4096})</(?P=key)>")


def _secret_kind(key: str) -> str | None:
    """The placeholder type for values under ``key``, or None if the key is not secret."""
    return _kind_for_key(key) if is_secret_key(key) else None


def _masked_key_value(match: re.Match[str], kind: str) -> str | None:
    """The masked text of one ``key<sep>value`` match, or None when it is not a secret."""
    group = match.lastgroup  # the value alternative that matched
    if group is None or group in {"reference", "block"}:
        return None
    value = match.group(group)
    if _is_benign_value(value) or PLACEHOLDER_PREFIX in value:
        return None
    if group == "bare":
        sep = match.group("sep")
        colon_only = ":" in sep and "=" not in sep
        if colon_only and _reads_as_prose(value, match.string, match.end()):
            return None
    offset = match.start()
    start, end = match.span(group)
    whole = match.group(0)
    return whole[: start - offset] + placeholder(kind) + whole[end - offset :]


def _masked_yaml_block(text: str, key_start: int, end: int, kind: str) -> tuple[str, int] | None:
    """Mask a ``key: |`` block: the lines after ``end`` indented deeper than the key.

    Returns the replacement for ``text[end:block_end]`` and ``block_end``, or None when
    there is no such block or it is already masked.
    """
    line_start = text.rfind("\n", 0, key_start) + 1
    key_indent = key_start - line_start
    newline = text.find("\n", end)
    if newline < 0:
        return None
    position = block_start = newline + 1
    block_indent: int | None = None
    while position < len(text):
        indent_end = _LINE_INDENT_RE.match(text, position)
        assert indent_end is not None  # "[ \t]*" always matches
        line_end = text.find("\n", position)
        line_end = len(text) if line_end < 0 else line_end
        blank = indent_end.end() == line_end
        if not blank and indent_end.end() - position <= key_indent:
            break
        if not blank and block_indent is None:
            block_indent = indent_end.end() - position
        position = line_end + 1
    block_end = min(position, len(text))
    if block_indent is None or PLACEHOLDER_PREFIX in text[block_start:block_end]:
        return None
    trailing = "\n" if text[block_end - 1 : block_end] == "\n" else ""
    masked = text[end:block_start] + " " * block_indent + placeholder(kind) + trailing
    return masked, block_end


def _redact_key_values(text: str) -> str:
    """Mask the values of secret-named keys, visiting only keys that contain a stem."""
    kinds: dict[str, str | None] = {}  # key -> placeholder type; logs repeat their keys
    pieces: list[str] = []
    copied_to = 0  # text[:copied_to] is already in pieces
    search_from = 0
    while (stem := _KEY_STEM_RE.search(text, search_from)) is not None:
        key_start = stem.start()
        floor = max(copied_to, key_start - _MAX_KEY_PREFIX - 1)
        while key_start > floor and text[key_start - 1] in _KEY_CHARS:
            key_start -= 1
        token_break = _KEY_TOKEN_BREAK_RE.search(text, stem.end())
        search_from = token_end = len(text) if token_break is None else token_break.start()
        if key_start > 0 and text[key_start - 1] in _KEY_CHARS:
            continue  # key longer than any real one, or glued to text already masked
        match = _KEY_VALUE_RE.match(text, key_start)
        if match is None or match.end("key") != token_end:
            continue
        key = match.group("key")
        if key not in kinds:
            # The Authorization rule owns these keys, with their scheme.
            authorization = key.lower().endswith("authorization")
            kinds[key] = None if authorization else _secret_kind(key)
        kind = kinds[key]
        if kind is None:
            continue
        if match.lastgroup == "block":
            block = _masked_yaml_block(text, key_start, match.end(), kind)
            replacement = None if block is None else (match.group(0) + block[0], block[1])
        else:
            value = _masked_key_value(match, kind)
            replacement = None if value is None else (value, match.end())
        if replacement is None:
            continue
        pieces.extend((text[copied_to:key_start], replacement[0]))
        copied_to = search_from = replacement[1]
    pieces.append(text[copied_to:])
    return "".join(pieces)


def _replace_xml(match: re.Match[str]) -> str:
    key, value = match.group("key"), match.group("value")
    if not is_secret_key(key) or _is_benign_value(value.strip()) or PLACEHOLDER_PREFIX in value:
        return match.group(0)
    return f"<{key}>{placeholder(_kind_for_key(key))}</{key}>"


def _vendor_rule(kind: str, opening: str, rest: str) -> _Rule:
    pattern = re.compile(_token_start(opening) + rest)
    return _sub(kind, pattern, _whole(kind), *_SHORT_OPENINGS.get(opening, (opening,)))


# The key stems of ``_KEY_STEM_RE``, lower case.
_KEY_STEMS = ("pass", "pw", "secret", "sig", "token", "key", "cred", "cookie", "auth", "dsn")

_RULES: tuple[_Rule, ...] = (
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
    _Rule("azure-client-secret", _mask_with_lead, ("Q~",)),
    _sub("webhook", _WEBHOOK_RE, _replace_webhook, "://"),
    _sub("url-password", _URL_CREDENTIALS_RE, _replace_url_password, "://"),
    _sub("url-token-user", _URL_TOKEN_USER_RE, _replace_url_token_user, "://"),
    _sub("authorization", _AUTH_HEADER_RE, _replace_auth_header, folded=("authorization",)),
    _sub("bearer", _BEARER_RE, _replace_bearer, folded=("bearer",)),
    _sub("cli-user", _CLI_USER_RE, _replace_cli_user, "-u", "--user"),
    _sub("env-json", _ENV_JSON_RE, _replace_env_entry, '"name'),
    _sub("env-yaml", _ENV_YAML_RE, _replace_env_entry, "name:"),
    _sub("xml", _XML_SECRET_RE, _replace_xml, "</"),
    _Rule("key-value", _redact_key_values, folded=_KEY_STEMS),
)


def _fewest(needles: set[str], folded: set[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The literals to look for: one that contains another (or, lower-cased, a folded one)
    is found whenever the text holds it, so only the others are searched."""
    kept_folded = {f for f in folded if not any(g != f and g in f for g in folded)}
    kept = {
        n
        for n in needles
        if not any(m != n and m in n for m in needles)
        and not any(f in n.lower() for f in kept_folded)
    }
    return tuple(sorted(kept)), tuple(sorted(kept_folded))


# Every literal some rule needs: a text with none of them holds nothing to redact.
_NEEDLES, _FOLDED_NEEDLES = _fewest(
    {needle for rule in _RULES for needle in rule.needles},
    {needle for rule in _RULES for needle in rule.folded},
)


def _may_hold_secrets(text: str) -> bool:
    """Whether any rule could match ``text`` (one substring search per literal). Only for
    ASCII text: case-insensitive patterns also match some non-ASCII letters (U+0131 dotless
    i, U+017F long s) that ``lower()`` leaves as they are, so other text runs every rule."""
    if not text.isascii():
        return True
    # A plain loop over the ~70 literals (a generator costs a third more): this runs for
    # every string of every Incident's evidence.
    for needle in _NEEDLES:
        if needle in text:
            return True
    lowered = text.lower()
    return any(needle in lowered for needle in _FOLDED_NEEDLES)


def redact_text(text: str) -> str:
    """``text`` with every recognised credential replaced by ``[REDACTED:<type>]``."""
    if not _may_hold_secrets(text):
        return text
    for rule in _RULES:
        text = rule.apply(text)
    return text


def redact_lines(lines: Sequence[str]) -> list[str]:
    """Redact consecutive lines (a log tail) where one secret may span several lines.

    A PEM private key printed to a log arrives one line per entry, so the body lines do not
    look like anything on their own: every line from a BEGIN ... PRIVATE KEY header to its
    END line is masked. The number of lines is preserved (line numbers are evidence).
    """
    redacted: list[str] = []
    inside_key = False
    for line in lines:
        if inside_key:
            redacted.append(placeholder("private-key"))
            inside_key = _PEM_END_RE.search(line) is None
            continue
        start = _PEM_BEGIN_RE.search(line)
        if start is not None and _PEM_END_RE.search(line, start.end()) is None:
            inside_key = True
        redacted.append(redact_text(line))
    return redacted


def redact_mapping(values: Mapping[str, str]) -> dict[str, str]:
    """Redact env vars, annotations or fields: a secret-named key loses its whole value."""
    redacted: dict[str, str] = {}
    for key, value in values.items():
        if is_secret_key(key) and value and not value.startswith(PLACEHOLDER_PREFIX):
            redacted[key] = placeholder(_kind_for_key(key))
        else:
            redacted[key] = redact_text(value)
    return redacted


def redact_args(args: Sequence[str]) -> list[str]:
    """Container args: ``["--db-password", "hunter2"]`` puts the secret in the next item."""
    redacted = redact_lines(args)
    for index in range(len(args) - 1):
        flag = args[index]
        follower = args[index + 1]
        if (
            flag.startswith("-")
            and "=" not in flag
            and is_secret_key(flag.lstrip("-"))
            and not follower.startswith("-")
        ):
            redacted[index + 1] = placeholder(_kind_for_key(flag.lstrip("-")))
    return redacted
