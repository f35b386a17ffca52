"""HTTP to the Meta Conversions API and the TikTok Events API: one request per batch.

Both clients extend the product clients of the ad platform apps, so the
token handling and the one error table per provider stay where they are
(Meta: ``access_token`` + ``appsecret_proof`` in the query and Graph error
codes; TikTok: the ``Access-Token`` header and codes inside HTTP 200). What is
added here is the two endpoints and their answers:

- Meta ``POST /{version}/{dataset_or_pixel_id}/events`` with JSON ``{data,
  partner_agent, test_event_code?}`` answers ``{"events_received": n,
  "messages": [], "fbtrace_id": "..."}`` (meta.md §3.1);
- TikTok ``POST /open_api/v1.3/event/track/`` with JSON ``{event_source,
  event_source_id, data, test_event_code?}`` answers the Marketing API envelope,
  success only when ``code`` is 0 (tiktok-ads.md §5).

Neither call is repeated by the client (``repeatable=False``): the
dispatcher decides about retries, so that every failure reaches its circuit
breaker, and a Business Messaging event is never sent twice by a retry loop
nobody sees (Meta does not deduplicate those).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.meta_ads.client import MetaClient
from apps.tiktok_ads.client import API_PREFIX, TikTokAdsClient

EVENT_TRACK_PATH = f"{API_PREFIX}/event/track/"


@dataclass(frozen=True)
class BatchAnswer:
    """What the platform said about one accepted request."""

    events_received: int
    trace_id: str
    provider_code: str = ""
    message: str = ""


class MetaConversionsClient(MetaClient):
    """``/{id}/events`` with a profile's token (or a system user's)."""

    def request_id_of(self, *, body: Any, headers: Mapping) -> str:
        # Successful answers carry ``fbtrace_id`` at the top level, errors inside ``error``.
        if isinstance(body, Mapping) and body.get("fbtrace_id"):
            return str(body["fbtrace_id"])
        return super().request_id_of(body=body, headers=headers)

    def send_events(
        self, *, dataset_id: str, events: Sequence[dict], test_event_code: str = ""
    ) -> BatchAnswer:
        body: dict[str, Any] = {
            "data": list(events),
            "partner_agent": settings.CAPI_PARTNER_AGENT,
        }
        if test_event_code:
            body["test_event_code"] = test_event_code
        response = self.request(
            "POST", self.path(f"{dataset_id}/events"), json=body, repeatable=False
        )
        answer = response.body if isinstance(response.body, Mapping) else {}
        messages = answer.get("messages") or []
        return BatchAnswer(
            events_received=int(answer.get("events_received") or 0),
            trace_id=response.request_id,
            message="; ".join(str(m) for m in messages)[:2000],
        )


class TikTokEventsClient(TikTokAdsClient):
    """``event/track/`` with the TikTok Ads connection's token.

    ``/event/track/`` has its own budget of 1,000 requests per second at every
    tier (contract §2.3), separate from the Marketing API's 10.
    """

    rate_limit = (1000, 1.0)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate_key = f"{self.app_id}:event_track"

    def track(
        self,
        *,
        event_source_id: str,
        events: Sequence[dict],
        event_source: str = "web",
        test_event_code: str = "",
    ) -> BatchAnswer:
        body: dict[str, Any] = {
            "event_source": event_source,
            "event_source_id": event_source_id,
            "data": list(events),
        }
        if test_event_code:
            body["test_event_code"] = test_event_code
        response = self.request("POST", EVENT_TRACK_PATH, json=body, repeatable=False)
        # code 20001 ("partial success") reaches here too: the message says what TikTok
        # could not use, and is kept with the events.
        message = ""
        if response.provider_code not in ("", "0") and isinstance(response.body, Mapping):
            message = str(response.body.get("message") or "")
        return BatchAnswer(
            events_received=len(events),
            trace_id=response.request_id,
            provider_code=response.provider_code,
            message=message,
        )
