from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from apps.leads.enrichment import AdDetails, enrichers


@dataclass
class FakeEnricher:
    """Answers per ad id, recording each call.

    An answer is an AdDetails, an exception to raise, or a callable run during
    the call that returns one (to make something happen while the platform is
    being asked).
    """

    answers: dict[str, AdDetails | Exception | Callable[[], AdDetails]] = field(
        default_factory=dict
    )
    calls: list[tuple[int, str]] = field(default_factory=list)

    def __call__(self, tenant, ad_id: str) -> AdDetails:
        self.calls.append((tenant.pk, ad_id))
        answer = self.answers[ad_id]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer()
        return answer


FAKE = FakeEnricher()


def fake_enricher(tenant, ad_id: str) -> AdDetails:
    return FAKE(tenant, ad_id)


def details(ad_id: str, label: str) -> AdDetails:
    return AdDetails(
        ad_id=ad_id,
        ad_name=f"Ad {label}",
        adset_id=f"{ad_id}1",
        adset_name=f"Ad set {label}",
        campaign_id=f"{ad_id}2",
        campaign_name=f"Campaign {label}",
        account_id="act_1234567890",
        account_name="Acme Ads",
    )


@pytest.fixture
def enricher(monkeypatch) -> FakeEnricher:
    """The enricher for platform ``meta`` during the test: a fake with canned answers."""
    FAKE.answers.clear()
    FAKE.calls.clear()
    monkeypatch.setitem(enrichers._paths, "meta", "apps.leads.tests.conftest.fake_enricher")
    return FAKE


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, tuple]]:
    """Tasks the services queue (after commit), recorded instead of sent to the broker."""
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        "apps.leads.services.enqueue", lambda func, *args, **kwargs: calls.append((func, args))
    )
    return calls
