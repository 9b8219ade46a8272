"""Settings: the only reader of configuration.

Sources, first wins: keyword arguments, the environment, a ``.env`` file, then the ROOT-level keys of
Streamlit's ``.streamlit/secrets.toml`` (read directly, so the client works without Streamlit). All
files are looked up in the current directory when settings are loaded; a missing file is fine.

Complete credentials (``ICEYE_API_URL``, ``ICEYE_AUTH_URL``, ``ICEYE_CLIENT_ID``,
``ICEYE_CLIENT_SECRET``) mean live mode; none of them means sandbox mode; a partial set is a
``ConfigurationError`` naming what is missing (issue 2, "Settings").
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from tasking.errors import ConfigurationError

__all__ = [
    "CREDENTIAL_ENV",
    "DOTENV",
    "SECRETS_TOML",
    "TOKEN_PATH",
    "TOKEN_SUFFIX",
    "Mode",
    "Settings",
    "load_settings",
    "token_url_for",
]


SECRETS_TOML = Path(".streamlit") / "secrets.toml"
DOTENV = ".env"
# ICEYE's demo appends this to ICEYE_AUTH_URL ("Do NOT include /v1/token", iceye-api.md §2).
TOKEN_PATH = "/v1/token"
# A value already ending like a token endpoint is taken as the full token URL.
TOKEN_SUFFIX = "/token"

Mode = Literal["live", "sandbox"]

CREDENTIAL_ENV = ("ICEYE_API_URL", "ICEYE_AUTH_URL", "ICEYE_CLIENT_ID", "ICEYE_CLIENT_SECRET")


def token_url_for(auth_url: str) -> str:
    """The token endpoint for an auth base URL (``/v1/token`` appended) or a full token URL."""
    base = auth_url.strip().rstrip("/")
    if base.endswith(TOKEN_SUFFIX):
        return base
    return base + TOKEN_PATH


def _check_http_url(value: str | None, env: str) -> str | None:
    if value is None:
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{env} must be an http:// or https:// URL, got {value!r}")
    return value.rstrip("/")


class Settings(BaseSettings):
    """Configuration of the console; field names in Python, ``ICEYE_*`` names everywhere else."""

    model_config = SettingsConfigDict(
        env_file=DOTENV,
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
        hide_input_in_errors=True,
    )

    api_url: str | None = Field(default=None, alias="ICEYE_API_URL")
    auth_url: str | None = Field(default=None, alias="ICEYE_AUTH_URL")
    client_id: str | None = Field(default=None, alias="ICEYE_CLIENT_ID")
    client_secret: SecretStr | None = Field(default=None, alias="ICEYE_CLIENT_SECRET")
    sandbox_url: str | None = Field(default=None, alias="ICEYE_SANDBOX_URL")
    data_dir: Path = Field(default_factory=lambda: Path.cwd() / ".data", alias="ICEYE_DATA_DIR")
    tle_source: str | None = Field(default=None, alias="ICEYE_TLE_SOURCE")
    history_url: str | None = Field(default=None, alias="ICEYE_HISTORY_URL")
    timeout_s: float = Field(default=30.0, gt=0, alias="ICEYE_TIMEOUT_S")

    # --- the background worker (tasking.worker) and notifications ---------------------------
    worker: Literal["auto", "external", "off"] = Field(default="auto", alias="ICEYE_WORKER")
    """auto: the app runs a worker in its own process, active only while no other worker holds
    the store's lease; external: a separate ``python -m tasking.worker`` does it; off: no worker,
    the Monitor polls ICEYE itself."""
    app_url: str = Field(default="http://localhost:8501", alias="ICEYE_APP_URL")
    """Where people open the app: the base of deep links in emails and outgoing webhooks."""
    callback_url: str | None = Field(default=None, alias="ICEYE_CALLBACK_URL")
    """The URL at which the backend can reach the worker's callback receiver (ICEYE needs a public
    https:// URL); unset in live mode means polling. In sandbox mode the receiver's own loopback
    URL is used."""
    callback_auth: Literal["basic", "oauth2"] = Field(default="basic", alias="ICEYE_CALLBACK_AUTH")
    """How ICEYE authenticates its callbacks to the worker: Basic credentials, or an OAuth2
    client-credentials token from the worker's own token endpoint (``/oauth/token``)."""
    worker_host: str = Field(default="127.0.0.1", alias="ICEYE_WORKER_HOST")
    worker_port: int = Field(default=8600, ge=0, le=65535, alias="ICEYE_WORKER_PORT")
    poll_interval_s: float = Field(default=60.0, ge=1, alias="ICEYE_POLL_INTERVAL_S")
    request_budget_per_min: int = Field(default=30, ge=2, alias="ICEYE_REQUEST_BUDGET")
    """At most this many ICEYE requests per minute from the worker, however many tasks."""
    smtp_host: str | None = Field(default=None, alias="ICEYE_SMTP_HOST")
    smtp_port: int = Field(default=587, ge=1, le=65535, alias="ICEYE_SMTP_PORT")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="starttls", alias="ICEYE_SMTP_SECURITY"
    )
    smtp_username: str | None = Field(default=None, alias="ICEYE_SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(default=None, alias="ICEYE_SMTP_PASSWORD")
    smtp_sender: str | None = Field(default=None, alias="ICEYE_SMTP_SENDER")
    notify_emails: str | None = Field(default=None, alias="ICEYE_NOTIFY_EMAILS")
    """Comma-separated recipients of task notifications by email."""
    notify_webhook_url: str | None = Field(default=None, alias="ICEYE_NOTIFY_WEBHOOK_URL")
    notify_webhook_secret: SecretStr | None = Field(
        default=None, alias="ICEYE_NOTIFY_WEBHOOK_SECRET"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Resolved against the current directory now, as Streamlit does for its secrets file.
        secrets = TomlConfigSettingsSource(settings_cls, toml_file=Path.cwd() / SECRETS_TOML)
        return init_settings, env_settings, dotenv_settings, secrets

    @field_validator(
        "api_url",
        "auth_url",
        "client_id",
        "client_secret",
        "sandbox_url",
        "tle_source",
        "history_url",
        "callback_url",
        "smtp_host",
        "smtp_username",
        "smtp_password",
        "smtp_sender",
        "notify_emails",
        "notify_webhook_url",
        "notify_webhook_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # ``ICEYE_CLIENT_ID=`` in a .env file means "not set", not "an empty id".
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, SecretStr) and not value.get_secret_value().strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str | None) -> str | None:
        return _check_http_url(value, "ICEYE_API_URL")

    @field_validator("auth_url")
    @classmethod
    def _auth_url(cls, value: str | None) -> str | None:
        return _check_http_url(value, "ICEYE_AUTH_URL")

    @field_validator("sandbox_url")
    @classmethod
    def _sandbox_url(cls, value: str | None) -> str | None:
        return _check_http_url(value, "ICEYE_SANDBOX_URL")

    @field_validator("callback_url")
    @classmethod
    def _callback_url(cls, value: str | None) -> str | None:
        return _check_http_url(value, "ICEYE_CALLBACK_URL")

    @field_validator("notify_webhook_url")
    @classmethod
    def _notify_webhook_url(cls, value: str | None) -> str | None:
        return _check_http_url(value, "ICEYE_NOTIFY_WEBHOOK_URL")

    @field_validator("app_url")
    @classmethod
    def _app_url(cls, value: str) -> str:
        checked = _check_http_url(value.strip(), "ICEYE_APP_URL")
        assert checked is not None
        return checked

    @property
    def email_recipients(self) -> list[str]:
        """``ICEYE_NOTIFY_EMAILS`` as a list (empty when unset)."""
        return [a.strip() for a in (self.notify_emails or "").split(",") if a.strip()]

    @model_validator(mode="after")
    def _default_history(self) -> Settings:
        if self.history_url is None:
            self.history_url = f"sqlite:///{(self.data_dir / 'history.sqlite').as_posix()}"
        return self

    def _credentials(self) -> dict[str, object]:
        return {
            "ICEYE_API_URL": self.api_url,
            "ICEYE_AUTH_URL": self.auth_url,
            "ICEYE_CLIENT_ID": self.client_id,
            "ICEYE_CLIENT_SECRET": self.client_secret,
        }

    @property
    def mode(self) -> Mode:
        """``live`` with complete credentials, ``sandbox`` with none; raises on a partial set."""
        values = self._credentials()
        missing = [name for name, value in values.items() if value is None]
        if not missing:
            return "live"
        if len(missing) == len(values):
            return "sandbox"
        names = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
        verb = "is" if len(missing) == 1 else "are"
        raise ConfigurationError(
            f"{names} {verb} missing: set all of {', '.join(CREDENTIAL_ENV)} "
            "for live mode, or none of them for the sandbox"
        )

    @property
    def token_url(self) -> str | None:
        """Full token endpoint URL, or None without ``ICEYE_AUTH_URL``."""
        return token_url_for(self.auth_url) if self.auth_url else None


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "settings"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def load_settings(**overrides: Any) -> Settings:
    """Settings from every source (``overrides`` by field name first); checks the mode too.

    Raises ConfigurationError, never a pydantic error, on unknown names, bad values or partial
    credentials.
    """
    known = set(Settings.model_fields)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigurationError(
            f"Unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        raise ConfigurationError(f"Invalid configuration: {_describe(error)}") from None
    except tomllib.TOMLDecodeError as error:
        # The decoder's message gives line and column only, never the file's values.
        raise ConfigurationError(f"{SECRETS_TOML.as_posix()} is not valid TOML: {error}") from None
    _ = settings.mode  # raises on partial credentials
    return settings
