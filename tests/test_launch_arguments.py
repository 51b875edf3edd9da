"""The launcher reads the model and logging file from Rasa's command line in every form Rasa accepts,
so the NLU child loads the model the server loads and ``--help`` starts no child."""

from __future__ import annotations

import pytest

from bot.runtime.launch import _given


@pytest.mark.parametrize(
    "arguments",
    [
        ["run", "--model", "models/a.tar.gz"],
        ["run", "--model=models/a.tar.gz"],
        ["run", "-m", "models/a.tar.gz"],
        ["run", "-mmodels/a.tar.gz"],
        ["run", "--mod", "models/a.tar.gz"],  # argparse's abbreviations, which Rasa's parser accepts
        ["run", "--port", "5005", "--enable-api", "-m", "models/a.tar.gz", "--cors", "*"],
    ],
)
def test_the_model_is_read_in_each_form_rasa_accepts(arguments: list[str]) -> None:
    given = _given(arguments)
    assert given.model == "models/a.tar.gz"
    assert not given.help


def test_the_logging_file_is_read_with_or_without_an_equals_sign() -> None:
    assert _given(["run", "--logging-config-file", "logging.yml"]).logging_config == "logging.yml"
    assert _given(["run", "actions", "--logging-config-file=logging.yml"]).logging_config == "logging.yml"
    assert _given(["run", "--logging-config", "logging.yml"]).logging_config == "logging.yml"
    assert _given(["run"]).logging_config is None
    assert _given(["run"]).model is None


@pytest.mark.parametrize("arguments", [["run", "--help"], ["run", "-h"], ["run", "--he"], ["run", "--model"]])
def test_help_or_a_command_line_rasa_will_refuse_starts_nothing(arguments: list[str]) -> None:
    assert _given(arguments).help, "Rasa prints its usage and exits: no NLU child is started for it"
