"""``NotificationsAPI``: ICEYE's Notifications API v1 (``reference/iceye-api.md`` §7.1) over a
shared ``Session``: the webhooks through which ICEYE calls back when a task's status changes.

ICEYE documents registerWebhook (``POST /notifications/v1/webhooks``, answering the webhook's id)
and that the callback is authenticated to the receiver by Basic auth or OAuth2 client credentials.
The body's field names, list and delete are not public: the shapes here are the sandbox's
(``tasking/sandbox/README.md``, "Notifications"), which a live deployment may need to adjust.
"""

from __future__ import annotations

from collections.abc import Iterator

from tasking.http import Session, page_params, paginate, parse, retry_unprocessed, segment
from tasking.models import Page, UtcDatetime, Wire

__all__ = ["NOTIFICATIONS", "NotificationsAPI", "Webhook"]

NOTIFICATIONS = "/notifications/v1"


class Webhook(Wire):
    """A registered webhook as the API shows it (never its credentials)."""

    id: str
    url: str
    authType: str | None = None
    description: str | None = None
    createdAt: UtcDatetime | None = None


class NotificationsAPI:
    """Notifications API v1 operations; thread-safe (the session is)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def register_webhook(
        self, url: str, *, username: str, password: str, description: str | None = None
    ) -> Webhook:
        """registerWebhook with Basic auth for the callbacks; retried only when the server
        certainly did not process it (an ambiguous failure is raised: list the webhooks to see
        whether it was made)."""
        auth = {"type": "basic", "username": username, "password": password}
        return self._register(url, auth, description)

    def register_webhook_oauth2(
        self,
        url: str,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        description: str | None = None,
    ) -> Webhook:
        """registerWebhook whose callbacks carry an OAuth2 token that ICEYE gets from
        ``token_url`` with these client credentials (ICEYE's option since 2025-06-03)."""
        auth = {
            "type": "oauth2",
            "tokenURL": token_url,
            "clientID": client_id,
            "clientSecret": client_secret,
        }
        return self._register(url, auth, description)

    def _register(self, url: str, auth: dict[str, str], description: str | None) -> Webhook:
        body: dict[str, object] = {"url": url, "auth": auth}
        if description:
            body["description"] = description
        response = self._session.request(
            "POST", f"{NOTIFICATIONS}/webhooks", json=body, retry=retry_unprocessed
        )
        return parse(Webhook, response)

    def list_webhooks(self, limit: int | None = None, cursor: str | None = None) -> Page[Webhook]:
        return self._session.get(
            f"{NOTIFICATIONS}/webhooks", Page[Webhook], page_params(limit, cursor)
        )

    def iter_webhooks(self) -> Iterator[Webhook]:
        return paginate(lambda cursor: self.list_webhooks(cursor=cursor))

    def get_webhook(self, webhook_id: str) -> Webhook:
        return self._session.get(f"{NOTIFICATIONS}/webhooks/{segment(webhook_id)}", Webhook)

    def delete_webhook(self, webhook_id: str) -> None:
        self._session.request("DELETE", f"{NOTIFICATIONS}/webhooks/{segment(webhook_id)}")
