"""The chart's notification values: each sink is off by default and turned on by its
``enabled`` flag; tokens, signing secrets and the Teams URL come from Secrets as env (never
read through the API); what the Deployment sets parses into the operator's ``Settings``.
Real: Helm's template engine (helm-python-sdk) and the production ``Settings``."""

from __future__ import annotations

import base64
from typing import Any

import helm_python as helm
import pytest

from kubetriage.settings import Settings
from tests.support.chart import manifests, of_kind, render_chart


def _env(values: dict[str, Any] | None = None) -> dict[str, Any]:
    (deployment,) = of_kind(manifests(values), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_every_sink_is_off_by_default() -> None:
    env = _env()
    assert not [name for name in env if "SLACK" in name or "TEAMS" in name or "NOTIFY" in name]
    assert "KUBETRIAGE_CLOUDEVENTS_URL" not in env


def test_sinks_from_values_reach_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "notifications": {
            "slack": {"enabled": True, "channel": "C0OPS", "existingSecret": "slack-app"},
            "teams": {"enabled": True, "existingSecret": "teams"},
            "cloudEvents": {"enabled": True, "url": "http://bridge.ops:8080/events"},
            "routes": [
                {"namespaces": ["prod-*"], "severities": ["critical"], "slackChannel": "C0PROD"}
            ],
            "minConfidence": 0.5,
            "quietPeriodSeconds": 600,
            "dashboardUrl": "https://grafana.example/d/k8s",
        }
    }
    env = _env(values)
    assert env["KUBETRIAGE_SLACK_BOT_TOKEN"] == {
        "secretKeyRef": {"name": "slack-app", "key": "bot-token"}
    }
    assert env["KUBETRIAGE_SLACK_SIGNING_SECRET"] == {
        "secretKeyRef": {"name": "slack-app", "key": "signing-secret"}
    }
    assert env["KUBETRIAGE_TEAMS_WEBHOOK_URL"] == {
        "secretKeyRef": {"name": "teams", "key": "teams-webhook-url"}
    }
    for name, value in env.items():
        if isinstance(value, str) and name.startswith("KUBETRIAGE_"):
            monkeypatch.setenv(name, value)
    settings = Settings()  # read from the environment, as in the pod
    assert settings.slack_channel == "C0OPS"
    assert settings.cloudevents_url == "http://bridge.ops:8080/events"
    assert settings.notify_min_confidence == 0.5
    assert settings.notify_quiet_period_seconds == 600
    assert settings.notify_dashboard_url == "https://grafana.example/d/k8s"
    (route,) = settings.notify_routes
    assert (route.namespaces, route.slack_channel) == (["prod-*"], "C0PROD")
    assert [s.value for s in route.severities] == ["critical"]


def test_inline_chat_secrets_go_into_the_chart_secret() -> None:
    values = {
        "notifications": {
            "slack": {"enabled": True, "channel": "C1", "botToken": "xoxb-1", "signingSecret": "s"},
            "teams": {"enabled": True, "webhookUrl": "https://example.webhook.office.com/x"},
        }
    }
    (secret,) = of_kind(manifests(values), "Secret")
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded["slack-bot-token"] == "xoxb-1"
    assert decoded["slack-signing-secret"] == "s"
    assert decoded["teams-webhook-url"] == "https://example.webhook.office.com/x"
    env = _env(values)
    name = secret["metadata"]["name"]
    assert env["KUBETRIAGE_SLACK_BOT_TOKEN"] == {
        "secretKeyRef": {"name": name, "key": "slack-bot-token"}
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"slack": {"enabled": True, "channel": "C1"}}, "needs notifications.slack.botToken"),
        ({"slack": {"enabled": True, "botToken": "x"}}, "needs notifications.slack.channel"),
        (
            {"slack": {"enabled": True, "channel": "C1", "botToken": "x", "existingSecret": "s"}},
            "either notifications.slack.botToken",
        ),
        ({"teams": {"enabled": True}}, "needs notifications.teams.webhookUrl"),
        ({"cloudEvents": {"enabled": True}}, "needs notifications.cloudEvents.url"),
    ],
)
def test_incomplete_sinks_fail_rendering(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=message.replace(".", r"\.")):
        render_chart({"notifications": values})


def test_a_route_channel_is_enough_and_buttons_can_be_left_off() -> None:
    env = _env(
        {
            "notifications": {
                "slack": {"enabled": True, "existingSecret": "slack-app", "buttons": False},
                "routes": [{"namespaces": ["*"], "slackChannel": "C0ALL"}],
            }
        }
    )
    assert "KUBETRIAGE_SLACK_BOT_TOKEN" in env
    assert "KUBETRIAGE_SLACK_SIGNING_SECRET" not in env
    assert "KUBETRIAGE_SLACK_CHANNEL" not in env
