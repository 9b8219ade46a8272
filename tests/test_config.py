"""Settings: sources and their order, live/sandbox/partial modes, token URL, secrets kept secret."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tasking.config import Settings, load_settings, token_url_for
from tasking.errors import ConfigurationError

ALL_ENV = (
    "ICEYE_API_URL",
    "ICEYE_AUTH_URL",
    "ICEYE_CLIENT_ID",
    "ICEYE_CLIENT_SECRET",
    "ICEYE_SANDBOX_URL",
    "ICEYE_DATA_DIR",
    "ICEYE_TLE_SOURCE",
    "ICEYE_HISTORY_URL",
    "ICEYE_TIMEOUT_S",
)
LIVE = {
    "ICEYE_API_URL": "https://platform.iceye.com/api",
    "ICEYE_AUTH_URL": "https://auth.example.com",
    "ICEYE_CLIENT_ID": "the-id",
    "ICEYE_CLIENT_SECRET": "the-very-secret",
}


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty directory and no ICEYE_* variables: only what a test sets is seen."""
    for name in ALL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def write_secrets(directory: Path, text: str) -> None:
    (directory / ".streamlit").mkdir(exist_ok=True)
    (directory / ".streamlit" / "secrets.toml").write_text(text, encoding="utf-8")


def test_no_credentials_anywhere_means_sandbox_mode_with_defaults(clean: Path) -> None:
    settings = load_settings()
    assert settings.mode == "sandbox"
    assert settings.timeout_s == 30.0
    assert settings.data_dir == clean / ".data"
    assert settings.history_url == f"sqlite:///{(clean / '.data' / 'history.sqlite').as_posix()}"
    assert settings.token_url is None


def test_complete_credentials_in_the_environment_mean_live_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in LIVE.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.mode == "live"
    assert settings.token_url == "https://auth.example.com/v1/token"
    assert settings.client_secret is not None
    assert settings.client_secret.get_secret_value() == "the-very-secret"


@pytest.mark.parametrize("left_out", list(LIVE))
def test_a_partial_set_of_credentials_is_an_error_naming_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, left_out: str
) -> None:
    for name, value in LIVE.items():
        if name != left_out:
            monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.message.startswith(f"{left_out} is missing")
    assert "or none of them for the sandbox" in caught.value.message


def test_the_partial_error_lists_every_missing_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICEYE_CLIENT_ID", "only-the-id")
    with pytest.raises(
        ConfigurationError,
        match="ICEYE_API_URL, ICEYE_AUTH_URL and ICEYE_CLIENT_SECRET are missing",
    ):
        load_settings()


def test_blank_values_count_as_unset(clean: Path) -> None:
    (clean / ".env").write_text("ICEYE_CLIENT_ID=\nICEYE_CLIENT_SECRET=  \n", encoding="utf-8")
    assert load_settings().mode == "sandbox"


def test_a_dotenv_file_in_the_current_directory_is_read(clean: Path) -> None:
    (clean / ".env").write_text(
        "".join(f"{k}={v}\n" for k, v in LIVE.items()) + "UNRELATED=1\n", encoding="utf-8"
    )
    assert load_settings().mode == "live"


def test_root_keys_of_streamlit_secrets_are_read_and_tables_ignored(clean: Path) -> None:
    write_secrets(
        clean,
        'ICEYE_SANDBOX_URL = "http://secrets.example"\nICEYE_TIMEOUT_S = 12.5\n'
        '[iceye]\nICEYE_CLIENT_ID = "nested-is-not-root"\n',
    )
    settings = load_settings()
    assert settings.sandbox_url == "http://secrets.example"
    assert settings.timeout_s == 12.5
    assert settings.client_id is None


def test_sources_rank_arguments_then_environment_then_dotenv_then_secrets(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_secrets(clean, 'ICEYE_TLE_SOURCE = "secrets"\nICEYE_SANDBOX_URL = "http://secrets"\n')
    (clean / ".env").write_text(
        "ICEYE_TLE_SOURCE=dotenv\nICEYE_SANDBOX_URL=http://dotenv\nICEYE_HISTORY_URL=sqlite://\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ICEYE_TLE_SOURCE", "env")
    settings = load_settings(data_dir=Path("given"))
    assert settings.tle_source == "env"
    assert settings.sandbox_url == "http://dotenv"
    assert settings.history_url == "sqlite://"
    assert settings.data_dir == Path("given")
    assert load_settings(tle_source="argument").tle_source == "argument"


def test_a_malformed_secrets_file_is_a_configuration_error_naming_it_without_values(
    clean: Path,
) -> None:
    write_secrets(clean, 'ICEYE_CLIENT_SECRET = "unterminated-secret\n')
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert ".streamlit/secrets.toml" in str(caught.value)
    assert "unterminated-secret" not in str(caught.value)


def test_a_missing_secrets_file_is_fine(clean: Path) -> None:
    (clean / ".streamlit").mkdir()
    assert load_settings().mode == "sandbox"


@pytest.mark.parametrize(
    ("auth_url", "token_url"),
    [
        ("https://auth.example.com", "https://auth.example.com/v1/token"),
        ("https://auth.example.com/", "https://auth.example.com/v1/token"),
        ("https://auth.example.com/oauth2/token", "https://auth.example.com/oauth2/token"),
        ("https://auth.example.com/v1/token/", "https://auth.example.com/v1/token"),
    ],
)
def test_the_token_url_appends_v1_token_unless_already_a_token_url(
    auth_url: str, token_url: str
) -> None:
    assert token_url_for(auth_url) == token_url
    assert Settings(auth_url=auth_url).token_url == token_url


def test_the_secret_never_shows_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in LIVE.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert "the-very-secret" not in repr(settings)
    assert "the-very-secret" not in str(settings)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"timeout_s": 0}, "timeout_s"),
        ({"api_url": "platform.iceye.com/api"}, "ICEYE_API_URL must be an http"),
        ({"sandbox_url": "ftp://x"}, "ICEYE_SANDBOX_URL must be an http"),
        ({"api_key": "x"}, "Unknown setting(s) api_key"),
    ],
)
def test_bad_values_are_configuration_errors_naming_the_setting(
    overrides: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings(**overrides)
    assert named in caught.value.message


def test_a_bad_environment_value_is_a_configuration_error_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ICEYE_TIMEOUT_S", "soon-ish")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "ICEYE_TIMEOUT_S" in caught.value.message
    assert "soon-ish" not in caught.value.message


def test_api_urls_lose_their_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICEYE_SANDBOX_URL", "http://127.0.0.1:8000/")
    assert load_settings().sandbox_url == "http://127.0.0.1:8000"
