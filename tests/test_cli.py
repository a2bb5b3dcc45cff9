import json

import pytest

from trajreg import cli


def test_gits_command_prints_a_descending_schedule(capsys):
    cli.main(["gits", "--model", "fmnist-edm", "--steps", "3", "--warmup", "4", "--grid", "11",
              "--device", "cpu"])
    sigmas = json.loads(capsys.readouterr().out)
    assert len(sigmas) == 4 and sigmas[0] == 80.0 and sigmas[-1] == 0.002
    assert all(a > b for a, b in zip(sigmas[:-1], sigmas[1:], strict=True))


def test_diffusers_format_ends_at_zero(capsys):
    cli.main(["gits", "--steps", "2", "--warmup", "2", "--grid", "6", "--format", "diffusers",
              "--device", "cpu"])
    assert json.loads(capsys.readouterr().out)[-1] == 0.0


def test_unknown_command_exits_with_usage(capsys):
    with pytest.raises(SystemExit):
        cli.main(["nope"])
    assert "usage: trajreg" in capsys.readouterr().err


@pytest.mark.parametrize("method, extra", [("polynomial", []),
                                           ("gits-dev", ["--warmup", "8", "--grid", "11"])])
def test_schedule_command_prints_a_searched_schedule(capsys, method, extra):
    cli.main(["schedule", "--method", method, "--steps", "3", "--format", "diffusers",
              "--device", "cpu", *extra])
    out = capsys.readouterr()
    sigmas = json.loads(out.out)
    assert len(sigmas) == 4 and sigmas[0] == 80.0 and sigmas[-1] == 0.0
    assert all(a > b for a, b in zip(sigmas[:-1], sigmas[1:], strict=True))
    assert f"{method}: search NFE" in out.err


def test_schedule_help_lists_the_methods(capsys):
    with pytest.raises(SystemExit):
        cli.main(["schedule", "--help"])
    assert "exhaustive" in capsys.readouterr().out
