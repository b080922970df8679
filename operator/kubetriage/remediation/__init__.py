"""Remediation: kubectl command templates for every action (suggest), and later the policy
and approved execution path. Nothing here touches the cluster unless policy and a human
allow it."""
