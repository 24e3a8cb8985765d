"""The channel registry is the one list: what the API, console, report and examples show."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.console.pages_report import BUCKETS
from bot.settings import Settings
from bot.web.schemas import ImportItemIn, ItemIn
from channels.base import ConfigurationError
from channels.registry import (
    BUCKET_LABELS,
    CHANNEL_LABELS,
    CHANNEL_NAMES,
    DEFAULT_CHANNELS,
    SPECS,
    bucket_channels,
    channel_options,
    example_env,
    example_toml,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _enum(model: type[Any], field: str) -> list[str]:
    schema = model.model_json_schema()
    return list(schema["properties"][field]["items"]["enum"])


class TestGeneratedLists:
    def test_api_schema_names_every_registered_channel(self) -> None:
        """The OpenAPI enum of channel names is the registry's list, in its order."""
        assert _enum(ItemIn, "channels") == list(CHANNEL_NAMES)
        assert _enum(ImportItemIn, "published_channels") == list(CHANNEL_NAMES)

    def test_api_refuses_a_name_the_registry_lacks(self) -> None:
        """An unregistered channel is refused with the registry's names in the message."""
        with pytest.raises(ValidationError) as caught:
            ItemIn.model_validate({"org": "tiande", "title": "t", "body": "b", "channels": ["fax"]})
        message = caught.value.errors()[0]["msg"]
        assert all(f"'{name}'" in message for name in CHANNEL_NAMES)

    def test_default_channels_are_those_the_specs_choose(self) -> None:
        """An item without channels goes where the specs marked chosen_by_default say."""
        item = ItemIn.model_validate({"org": "tiande", "title": "t", "body": "b"})
        assert item.channels == [s.name for s in SPECS if s.chosen_by_default]
        assert tuple(item.channels) == DEFAULT_CHANNELS

    def test_every_channel_has_a_label_and_a_known_bucket(self) -> None:
        """Each channel has a Chinese label and counts in one of the report's buckets."""
        assert set(CHANNEL_LABELS) == set(CHANNEL_NAMES)
        assert all(re.search(r"[\u4e00-\u9fff]", label) for label in CHANNEL_LABELS.values())
        assert {s.bucket for s in SPECS} <= {*BUCKET_LABELS, None}

    def test_report_buckets_gather_the_channels_of_each_bucket(self) -> None:
        """Every bucketed channel is in exactly one bucket, and the console lists each one."""
        gathered = [c for bucket in BUCKET_LABELS for c in bucket_channels(bucket)]
        assert sorted(gathered) == sorted(s.name for s in SPECS if s.bucket)
        assert set(BUCKET_LABELS) <= set(BUCKETS)


class TestSettingsAndExamples:
    def test_example_settings_name_every_channel_setting(self) -> None:
        """Both example files carry each setting a registered channel reads."""
        toml = (DEPLOY / "gongkai.example.toml").read_text(encoding="utf-8")
        env = (DEPLOY / "gongkai.env.example").read_text(encoding="utf-8")
        for spec in SPECS:
            for key in spec.settings_keys:
                assert re.search(rf"^{key} = ", toml, re.MULTILINE), (spec.name, key)
                assert f"GONGKAI_{key.upper()}=" in env, (spec.name, key)

    def test_example_toml_carries_the_generated_channel_sections(self) -> None:
        """The [channel.<name>] sections in the example file are the registry's, verbatim."""
        toml = (DEPLOY / "gongkai.example.toml").read_text(encoding="utf-8")
        assert example_toml() in toml

    def test_example_env_line_is_generated_and_read_back(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The GONGKAI_CHANNEL line of the env example is the registry's and parses as set."""
        env = (DEPLOY / "gongkai.env.example").read_text(encoding="utf-8")
        line = example_env()
        assert line in env
        value = line.removeprefix("#GONGKAI_CHANNEL=").strip().strip("'")
        monkeypatch.setenv("GONGKAI_CHANNEL", value)
        options = channel_options(Settings())
        assert set(options) == {s.name for s in SPECS if s.options is not None}

    def test_example_toml_sections_load_as_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The example file's channel tables are read into Settings.channel and validate."""
        monkeypatch.setenv("GONGKAI_CONFIG", str(DEPLOY / "gongkai.example.toml"))
        settings = Settings()
        assert set(settings.channel) == {s.name for s in SPECS if s.options is not None}
        assert set(channel_options(settings)) == set(settings.channel)

    def test_channel_sections_are_validated_with_the_field_named(self) -> None:
        """A section for an unknown channel, or a bad option, stops the start with a reason."""
        with pytest.raises(ConfigurationError, match="unknown channels: fax"):
            channel_options(Settings(channel={"fax": {}}))
        optioned = [s for s in SPECS if s.options is not None]
        for spec in optioned:
            with pytest.raises(ConfigurationError, match=rf"channel\.{spec.name}\."):
                channel_options(Settings(channel={spec.name: {"no_such_option": 1}}))
