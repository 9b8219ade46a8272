"""How a notice about a task reaches people: email over SMTP and an outgoing JSON webhook.

The background worker decides what to notify and keeps the bookkeeping (one delivery per notice
and channel, retries with backoff, a stable delivery id); this package only renders and sends one
delivery, synchronously, with no database and no Streamlit::

    notice = Notice(delivery_id=..., task_id=..., kind="products_ready", ...)
    if (email := EmailSettings.from_settings(settings)) is not None:
        send_email(notice, email)           # DeliveryFailed(permanent=...) on failure
    if (hook := WebhookSettings.from_settings(settings)) is not None:
        send_webhook(notice, hook, client)  # the worker's one httpx.Client

``DeliveryFailed`` is a ``TaskingError``; its ``permanent`` tells the worker whether to retry.
"""

from tasking.notify.mail import EmailSettings, compose_email, send_email
from tasking.notify.notice import NOTICE_KINDS, DeliveryFailed, Notice
from tasking.notify.webhook import WebhookSettings, send_webhook, signature, webhook_payload

__all__ = [
    "NOTICE_KINDS",
    "DeliveryFailed",
    "EmailSettings",
    "Notice",
    "WebhookSettings",
    "compose_email",
    "send_email",
    "send_webhook",
    "signature",
    "webhook_payload",
]
