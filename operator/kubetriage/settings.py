"""The one settings object, read from ``KUBETRIAGE_*`` environment variables (and CLI flags).

Built once at startup by the CLI and passed down; nothing else reads the environment, except
OpenTelemetry's own ``OTEL_*`` variables, which the SDK reads by convention.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kubetriage.bounds import DEFAULT_MAX_BYTES, MAX_BYTES_CEILING, MIN_MAX_BYTES
from kubetriage.models.notify import NotifyRoute
from kubetriage.models.vocabulary import Category, Severity


class ModelPrice(BaseModel):
    """What one model costs, in any currency, per million tokens (the provider's price list;
    nothing is assumed: a model without a price has no estimated cost)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_million: float = Field(ge=0.0)
    output_per_million: float = Field(ge=0.0)


class SecretFileError(ValueError):
    """A ``*_FILE`` secret setting names a file that cannot be read."""


def secret_from(value: SecretStr | None, path: Path | None) -> SecretStr | None:
    """A secret given directly (env, from a Kubernetes Secret) or as a mounted file; the
    file wins when both are set. Never read through the Kubernetes API."""
    if path is None:
        return value
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise SecretFileError(f"cannot read secret file {path}: {error.strerror}") from error
    if not text:
        raise SecretFileError(f"secret file {path} is empty")
    return SecretStr(text)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KUBETRIAGE_", env_nested_delimiter="__", extra="ignore"
    )

    # --- operator -----------------------------------------------------------------------
    namespaces: list[str] = Field(default_factory=list, description="empty = all namespaces")
    concurrency: int = Field(default=4, ge=1, le=256, description="diagnoses at once")
    peering_name: str = "kubetriage"
    # Kopf peering: the replica with the highest priority works, the others wait. Unset:
    # each process draws one at random, so replicas of one Deployment never tie.
    peering_priority: int | None = Field(default=None, ge=0)
    standalone: bool = False
    cluster_name: str = "default"
    diagnosis_timeout_seconds: float = Field(default=120.0, gt=0)
    # Kopf retry model: attempts for temporary failures (API down) and the delay between.
    retry_limit: int = Field(default=5, ge=1, le=50)
    retry_delay_seconds: float = Field(default=15.0, ge=0.0)
    incident_namespace: str = Field(
        default="kubetriage", description="where Incidents without a namespace label go"
    )
    # Incidents in these namespaces may target cluster-scoped objects (Nodes, PVs) and other
    # namespaces; every other Incident reads and acts on its own namespace only
    # (kubetriage.tenancy). Unset: just incident_namespace.
    cluster_scope_namespaces: list[str] | None = None
    health_port: int = Field(default=8081, ge=0, le=65535)
    # Prometheus /metrics of the operator process; 0 = not served.
    metrics_host: str = "0.0.0.0"
    metrics_port: int = Field(default=9090, ge=0, le=65535)

    # --- remediation ----------------------------------------------------------------------
    # YAML policy saying which approved remediations may run where; unset = suggest only.
    policy_file: Path | None = None

    # --- Kubernetes evidence --------------------------------------------------------------
    log_tail_lines: int = Field(default=50, ge=0, le=1000)
    log_tail_bytes: int = Field(default=16_384, ge=0)
    max_events: int = Field(default=30, ge=0)
    max_pods: int = Field(default=10, ge=1)
    kube_request_timeout_seconds: float = Field(default=10.0, gt=0)
    # Diagnoses running at once share identical API reads: one request in flight, its answer
    # reused for this long after it was asked for (evidence at most this old); 0 = off.
    evidence_cache_seconds: float = Field(default=2.0, ge=0.0, le=60.0)
    # The whole Incident's size bound in bytes (kubetriage.bounds splits it into budgets).
    incident_max_bytes: int = Field(
        default=DEFAULT_MAX_BYTES, ge=MIN_MAX_BYTES, le=MAX_BYTES_CEILING
    )

    # --- LLM (any OpenAI-compatible endpoint) -----------------------------------------
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_provider: str = Field(default="openai", description="gen_ai.provider.name")
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_max_output_tokens: int = Field(default=800, ge=64)
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    # "auto": json_schema first, json_object when the server rejects it.
    llm_response_format: str = Field(default="auto", pattern="^(auto|json_schema|json_object)$")
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    # Azure OpenAI: set llm_api_version and use the deployment as llm_model.
    llm_api_version: str | None = None
    llm_prompt_max_chars: int = Field(default=24_000, ge=2_000)
    # Reversibly anonymise namespace/workload/node names before they reach the model.
    llm_anonymize: bool = False

    # --- LLM cost controls: budgets, gating, prices (llm/budget.py, llm/gating.py) -----
    # Model calls per minute: a token bucket of this size refilled at this rate, shared by
    # every diagnosis of the operator. Unset = no limit.
    llm_calls_per_minute: int | None = Field(default=None, ge=1)
    # Input+output tokens per clock hour / UTC day. Unset = no limit.
    llm_tokens_per_hour: int | None = Field(default=None, ge=1)
    llm_tokens_per_day: int | None = Field(default=None, ge=1)
    # Share of every limit that only critical Incidents may use (critical first under
    # pressure): 0.25 with 20 calls/minute keeps the last 5 calls for critical ones.
    llm_critical_reserve: float = Field(default=0.25, ge=0.0, lt=1.0)
    # Where the budget's usage is kept across restarts (a ConfigMap); namespace unset = the
    # incident namespace.
    llm_budget_configmap: str = "kubetriage-llm-budget"
    llm_budget_namespace: str | None = None
    # Gating: the model is asked only for Incidents matching every rule set here (empty or
    # unset = no rule). Others say "model not used: rule X" in status.diagnosis.llm.
    llm_only_severities: list[Severity] = Field(default_factory=list)
    llm_only_namespaces: list[str] = Field(default_factory=list)
    llm_skip_namespaces: list[str] = Field(default_factory=list)
    llm_only_categories: list[Category] = Field(default_factory=list)
    # Ask only when the analyzers' best confidence is below this.
    llm_below_confidence: float | None = Field(default=None, gt=0.0, le=1.0)
    # Per-model prices for the estimated cost, keyed by model name; no default prices.
    llm_prices: dict[str, ModelPrice] = Field(default_factory=dict)

    # --- Prometheus -----------------------------------------------------------------------
    prometheus_url: str | None = None
    prometheus_auth_header: SecretStr | None = None
    prometheus_timeout_seconds: float = Field(default=10.0, gt=0)
    metrics_window_minutes: int = Field(default=60, ge=1)
    # Replay (diagnose/eval/demo): backfill a case's metrics into a local Prometheus.
    replay_prometheus: bool = True

    # --- memory (Qdrant) ------------------------------------------------------------------
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_path: Path | None = None
    memory_enabled: bool = True
    memory_top_k: int = Field(default=3, ge=1, le=10)
    memory_score_threshold: float = Field(default=0.6, ge=0.0, le=1.0)

    # --- receiver -------------------------------------------------------------------------
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=0, le=65535)
    webhook_token: SecretStr | None = None
    # A 4,000-alert group (Alertmanager max_alerts: 0) is ~1.7 MB; bodies are parsed off the
    # event loop, and only the newest webhook_max_alerts_per_notification alerts are kept.
    webhook_max_body_bytes: int = Field(default=8 * 1_048_576, ge=1024)
    webhook_max_alerts_per_notification: int = Field(default=1000, ge=1)
    # A client must send its request head within this long of connecting, and the body
    # within webhook_body_timeout_seconds; slower ones are cut off (408 for the body).
    webhook_header_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_body_timeout_seconds: float = Field(default=30.0, gt=0)
    # The answer waits until the Incident is stored; longer than this: 503 + Retry-After.
    webhook_store_timeout_seconds: float = Field(default=20.0, gt=0)
    webhook_enabled: bool = True
    # Without a token the receiver only starts when this is explicitly true.
    webhook_allow_unauthenticated: bool = False
    webhook_queue_size: int = Field(default=1000, ge=1, description="notifications waiting")
    webhook_workers: int = Field(default=4, ge=1, le=64)
    webhook_retry_after_seconds: int = Field(default=5, ge=1)
    webhook_max_alerts_per_incident: int = Field(default=100, ge=1, le=100)

    # --- notifications (kubetriage.notify) ----------------------------------------------
    # Slack: a bot token (chat:write) and the app's signing secret (interactivity), each
    # directly or as a file mounted from a Secret (the *_file setting wins).
    slack_bot_token: SecretStr | None = None
    slack_bot_token_file: Path | None = None
    slack_signing_secret: SecretStr | None = None
    slack_signing_secret_file: Path | None = None
    slack_channel: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    # Microsoft Teams Workflows / incoming-webhook URL (it is a credential).
    teams_webhook_url: SecretStr | None = None
    teams_webhook_url_file: Path | None = None
    # CloudEvents (structured JSON over HTTP POST) sink and the events' source attribute.
    cloudevents_url: str | None = None
    cloudevents_source: str = "/kubetriage"
    notify_routes: list[NotifyRoute] = Field(default_factory=list)
    notify_min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    # Threaded replies (and Teams cards) for one Incident at most once per this period.
    notify_quiet_period_seconds: float = Field(default=300.0, ge=0.0)
    notify_timeout_seconds: float = Field(default=10.0, gt=0)
    notify_max_attempts: int = Field(default=3, ge=1, le=10)
    notify_retry_delay_seconds: float = Field(default=2.0, ge=0.0)
    # Grafana or Prometheus base URL linked from every message.
    notify_dashboard_url: str | None = None

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)
