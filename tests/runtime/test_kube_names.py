"""The kubernetes backend's names: whatever a session, run, ticket or agent is called, the pod's name is a DNS label
(at most 63 characters) and every label value is a valid Kubernetes label value; the same input always gives the
same output (selectors find what was labelled), and different inputs do not collide."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metawsm.runtime.kube_manifest import label_value, pod_name, selector

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
SETTINGS = settings(max_examples=300, deadline=None)
names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@SETTINGS
@given(names)
def test_label_values_are_valid_and_stable(value: str) -> None:
    made = label_value(value)
    assert LABEL_VALUE.match(made), (value, made)
    assert label_value(value) == made
    if len(value) <= 63 and LABEL_VALUE.match(value):
        assert made == value  # a valid value is kept as it is


@SETTINGS
@given(names, names)
def test_different_values_get_different_label_values(a: str, b: str) -> None:
    if a != b:  # an invalid value keeps a hash of itself: a collision needs two equal 32-bit hashes
        assert label_value(a) != label_value(b)


@SETTINGS
@given(st.text(alphabet="0123456789abcdef", min_size=8, max_size=8), names)
def test_pod_names_are_dns_labels(scope: str, session: str) -> None:
    made = pod_name(scope, session)
    assert DNS_LABEL.match(made) and len(made) <= 63, made
    assert made.startswith(f"mw-{scope}-")


@pytest.mark.parametrize(("session", "other"), [("demo-DEMO-1-writer", "demo-demo-1-writer"),
                                                ("p-T-1-a.b", "p-T-1-a_b")])
def test_sessions_that_differ_only_in_case_or_punctuation_get_their_own_pods(session: str, other: str) -> None:
    assert pod_name("abcd1234", session) != pod_name("abcd1234", other)


def test_a_selector_names_every_label_with_its_value() -> None:
    long_run = "a-plan-whose-name-is-long-enough-to-overflow-kubernetes-labels-20260101-000000-abcd"
    chosen = selector(repo="abcd1234", run=long_run)
    key, _, value = chosen.split(",")[1].partition("=")
    assert key == "metawsm/run" and value == label_value(long_run) and len(value) <= 63
