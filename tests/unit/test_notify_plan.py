"""The notification planner and renderings, pure: routing by namespace, severity and
category; the minimum confidence; one Slack message per Incident (post once, then update);
threaded replies on a re-fire or a changed diagnosis, silenced within the quiet period;
another replica's fresh claim; Block Kit content, escaping and Approve buttons; and every
credential of the redaction corpus masked in every rendering. Real production functions on
Incident bodies shaped as the API returns them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetriage.models.notify import NotifyRoute, SentState, SlackState
from kubetriage.models.vocabulary import Category, Severity
from kubetriage.notify.content import Notice, build_notice, event_id, event_type
from kubetriage.notify.plan import Policy, plan_cloudevent, plan_slack, plan_teams, route_for
from kubetriage.notify.slack import ACTION_APPROVE, blocks_as_text, render_blocks
from kubetriage.notify.webhooks import cloud_event, structured, teams_card

NOW = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
CORPUS = yaml.safe_load((Path(__file__).parent / "data" / "secret_shapes.yaml").read_text("utf-8"))


def body(
    *,
    phase: str = "Diagnosed",
    category: str = "oom-killed",
    confidence: float = 0.9,
    action: str = "increase-memory",
    namespace: str = "shop",
    severity: str = "warning",
    reopened: int = 0,
    summary: str = "checkout is OOM-killed at its 512Mi limit",
) -> dict[str, Any]:
    return {
        "metadata": {"name": "inc", "namespace": namespace, "uid": "u-1", "generation": 2},
        "spec": {"title": "checkout restarting", "severity": severity},
        "status": {
            "phase": phase,
            "alertGroup": {"reopened": reopened},
            "diagnosis": {
                "summary": summary,
                "category": category,
                "confidence": confidence,
                "remediations": [
                    {
                        "id": "r1",
                        "action": action,
                        "title": "Fix <it> & go",
                        "target": {"kind": "Deployment", "namespace": namespace, "name": "c"},
                        "command": "kubectl -n shop rollout undo deployment/c",
                        "risk": "medium",
                    }
                ],
            },
        },
    }


def policy(**overrides: Any) -> Policy:
    values: dict[str, Any] = {
        "routes": [],
        "min_confidence": 0.0,
        "quiet_period": timedelta(minutes=5),
        "max_attempts": 3,
        "retry_delay": timedelta(seconds=2),
        "default_channel": "C1",
    }
    values.update(overrides)
    return Policy(**values)


def posted(notice: Notice, **overrides: Any) -> SlackState:
    values: dict[str, Any] = {
        "channel": "C1",
        "ts": "1.1",
        "digest": "old",
        "phase": notice.phase,
        "category": notice.category,
        "action": notice.top_action,
        "reopened": notice.reopened,
    }
    values.update(overrides)
    return SlackState(**values)


def test_routes_match_namespace_globs_severity_and_category() -> None:
    routes = [
        NotifyRoute(namespaces=["prod-*"], severities=[Severity.CRITICAL], slack_channel="C-p"),
        NotifyRoute(namespaces=["shop"], categories=[Category.NETWORK], sinks=["teams"]),
    ]
    critical = build_notice(body(namespace="prod-eu", severity="critical"))
    warning = build_notice(body(namespace="prod-eu"))
    network = build_notice(body(category="network"))
    assert route_for(critical, routes) is routes[0]
    assert route_for(warning, routes) is None
    assert route_for(network, routes) is routes[1]
    plan = plan_slack(warning, SlackState(), "d", policy(routes=routes), NOW, holder="me")
    assert plan.action == "none"
    assert plan.skip is not None
    assert plan.skip.reason == "NotRouted"
    # Routed to Teams only: Slack says nothing and gives no reason to show.
    plan = plan_slack(network, SlackState(), "d", policy(routes=routes), NOW, holder="me")
    assert (plan.action, plan.skip and plan.skip.reason) == ("none", "")


def test_first_diagnosis_posts_then_updates_only_on_change() -> None:
    notice = build_notice(body())
    assert plan_slack(notice, SlackState(), "d1", policy(), NOW, holder="me").action == "post"
    same = plan_slack(notice, posted(notice, digest="d1"), "d1", policy(), NOW, holder="me")
    assert same.action == "none"
    changed = plan_slack(notice, posted(notice, digest="d0"), "d1", policy(), NOW, holder="me")
    assert (changed.action, changed.reply) == ("update", None)


def test_below_the_confidence_floor_nothing_is_posted() -> None:
    notice = build_notice(body(confidence=0.4))
    plan = plan_slack(notice, SlackState(), "d", policy(min_confidence=0.6), NOW, holder="me")
    assert plan.action == "none"
    assert plan.skip is not None
    assert plan.skip.reason == "BelowMinConfidence"
    # Once posted, later updates are not held back by the floor (the message gets resolved).
    resolved = build_notice(body(phase="Resolved", confidence=0.4))
    state = posted(resolved, phase="Diagnosed")
    plan = plan_slack(resolved, state, "d", policy(min_confidence=0.6), NOW, holder="me")
    assert plan.action == "update"


def test_nothing_is_posted_before_a_diagnosis_or_for_an_unposted_resolution() -> None:
    for phase in ("Pending", "Investigating", "Resolved"):
        notice = build_notice(body(phase=phase))
        assert plan_slack(notice, SlackState(), "d", policy(), NOW, holder="me").action == "none"


def test_refire_and_changed_diagnosis_reply_in_the_thread_once_per_quiet_period() -> None:
    refired = build_notice(body(reopened=1))
    state = posted(refired, reopened=0)
    plan = plan_slack(refired, state, "d", policy(), NOW, holder="me")
    assert plan.action == "update"
    assert plan.reply is not None
    assert "Fired again" in plan.reply

    changed = build_notice(body(category="bad-rollout", action="rollback"))
    state = posted(changed, category="oom-killed", action="increase-memory")
    plan = plan_slack(changed, state, "d", policy(), NOW, holder="me")
    assert plan.reply is not None
    assert plan.reply.startswith("Diagnosis changed: oom-killed (increase-memory) → bad-rollout")

    flapping = state.model_copy(update={"last_reply_at": NOW - timedelta(minutes=1)})
    plan = plan_slack(changed, flapping, "d", policy(), NOW, holder="me")
    assert (plan.action, plan.reply) == ("update", None)

    # A re-worded summary is not a changed diagnosis: no reply, just the edit.
    reworded = build_notice(body(summary="checkout keeps getting OOM-killed"))
    plan = plan_slack(reworded, posted(reworded), "d", policy(), NOW, holder="me")
    assert (plan.action, plan.reply) == ("update", None)


def test_a_fresh_claim_by_another_replica_waits_a_stale_one_does_not() -> None:
    notice = build_notice(body())
    fresh = SlackState(claimed_by="other", claimed_at=NOW - timedelta(seconds=5))
    stale = SlackState(claimed_by="other", claimed_at=NOW - timedelta(minutes=10))
    assert plan_slack(notice, fresh, "d", policy(), NOW, holder="me").action == "wait"
    assert plan_slack(notice, stale, "d", policy(), NOW, holder="me").action == "post"


def test_failures_are_retried_after_a_delay_and_given_up_after_max_attempts() -> None:
    notice = build_notice(body())
    recent = SlackState(failures=1, failed_digest="d", error_at=NOW - timedelta(seconds=1))
    later = recent.model_copy(update={"error_at": NOW - timedelta(seconds=3)})
    exhausted = later.model_copy(update={"failures": 3})
    assert plan_slack(notice, recent, "d", policy(), NOW, holder="me").action == "none"
    assert plan_slack(notice, later, "d", policy(), NOW, holder="me").action == "post"
    assert plan_slack(notice, exhausted, "d", policy(), NOW, holder="me").action == "none"
    # New content is worth new attempts.
    assert plan_slack(notice, exhausted, "d2", policy(), NOW, holder="me").action == "post"


def test_teams_one_card_per_transition_resolution_always() -> None:
    notice = build_notice(body())
    first = plan_teams(notice, SentState(), policy(), NOW)
    assert first.send
    sent = SentState(transition=first.transition, sent_at=NOW)
    assert not plan_teams(notice, sent, policy(), NOW).send
    changed = build_notice(body(category="bad-rollout", action="rollback"))
    assert not plan_teams(changed, sent, policy(), NOW + timedelta(minutes=1)).send  # quiet
    assert plan_teams(changed, sent, policy(), NOW + timedelta(minutes=6)).send
    resolved = build_notice(body(phase="Resolved"))
    assert plan_teams(resolved, sent, policy(), NOW + timedelta(seconds=1)).send


def test_cloudevent_types_and_stable_ids() -> None:
    diagnosed = build_notice(body())
    resolved = build_notice(body(phase="Resolved"))
    reopened = build_notice(body(phase="Pending", reopened=1))
    assert [event_type(n) for n in (diagnosed, resolved, reopened)] == [
        "io.kubetriage.incident.diagnosed",
        "io.kubetriage.incident.resolved",
        "io.kubetriage.incident.reopened",
    ]
    assert event_type(build_notice(body(phase="Investigating"))) is None
    first = plan_cloudevent(diagnosed, SentState(), policy(), NOW)
    assert first.event_id == event_id(build_notice(body()), "io.kubetriage.incident.diagnosed")
    done = SentState(event_id=first.event_id)
    assert not plan_cloudevent(diagnosed, done, policy(), NOW).send
    assert plan_cloudevent(resolved, done, policy(), NOW).send


def test_blocks_carry_the_diagnosis_escaped_with_buttons() -> None:
    notice = build_notice(body())
    blocks = render_blocks(notice, approvable=frozenset({"increase-memory"}))
    text = blocks_as_text(blocks)
    assert text.splitlines()[0] == "[WARNING] checkout restarting"
    assert "*Category* oom-killed" in text
    assert "*Confidence* 0.90" in text
    assert "*1. Fix &lt;it&gt; &amp; go*  (medium risk, increase-memory)" in text
    assert "```kubectl -n shop rollout undo deployment/c```" in text
    actions = blocks[-1]["elements"]
    assert [e["action_id"] for e in actions] == [
        "kubetriage.helpful",
        "kubetriage.category",
        f"{ACTION_APPROVE}.r1",
    ]
    categories = [json.loads(o["value"])["category"] for o in actions[1]["options"]]
    assert "oom-killed" not in categories
    assert len(categories) == len(Category) - 1
    without_policy = render_blocks(notice)
    assert [e["action_id"] for e in without_policy[-1]["elements"]] == [
        "kubetriage.helpful",
        "kubetriage.category",
    ]


@pytest.mark.parametrize("shape", CORPUS["shapes"], ids=lambda s: s["shape"])
def test_no_credential_reaches_any_rendering(shape: dict[str, Any]) -> None:
    leaky = body(summary=shape["text"][:1000])
    leaky["spec"]["description"] = shape["text"]
    leaky["status"]["diagnosis"]["evidence"] = [{"source": "logs", "fact": shape["text"][:1000]}]
    notice = build_notice(leaky)
    headers, payload = structured(
        cloud_event(notice, "io.kubetriage.incident.diagnosed", source="/k", now=NOW)
    )
    renderings = [
        blocks_as_text(render_blocks(notice)),
        notice.summary or "",
        json.dumps(render_blocks(notice)),
        json.dumps(teams_card(notice)),
        payload.decode(),
        json.dumps(headers),
    ]
    for rendering in renderings:
        for secret in shape["secrets"]:
            assert secret not in rendering
