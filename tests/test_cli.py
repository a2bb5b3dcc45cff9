"""The trajreg command: schedules on the embedded model and on tiny pipelines, exports, and one
clear message (no traceback, nothing computed) for every user error."""

import json

import numpy as np
import pytest
import torch

from trajreg import cli, models, schedules, search


def test_gits_command_prints_a_descending_schedule(capsys):
    cli.main(["gits", "--model", "fmnist-edm", "--steps", "3", "--warmup", "4", "--grid", "11",
              "--device", "cpu", "--quiet"])
    sigmas = json.loads(capsys.readouterr().out)
    assert len(sigmas) == 4 and sigmas[0] == 80.0 and sigmas[-1] == 0.002
    assert all(a > b for a, b in zip(sigmas[:-1], sigmas[1:], strict=True))


def test_diffusers_format_ends_at_zero(capsys):
    cli.main(["gits", "--steps", "2", "--warmup", "2", "--grid", "6", "--format", "diffusers",
              "--device", "cpu", "--quiet"])
    assert json.loads(capsys.readouterr().out)[-1] == 0.0


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
    if method == "gits-dev":                       # a progress bar, and the cost 8 x 10 evaluations
        assert "80/80" in out.err and "search NFE 80 " in out.err


def test_schedule_defaults_to_the_package_gits_cost():
    a = cli._parser().parse_args(["schedule"])
    assert a.method == "gits-dev" and a.method == f"gits-{__import__('trajreg').gits.METRIC}"


def test_help_lists_commands_and_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert all(c in out for c in ("schedule", "gits", "train", "fid", "distributed", "defaults:",
                                  "--method gits-dev"))
    with pytest.raises(SystemExit):
        cli.main(["schedule", "--help"])
    out = capsys.readouterr().out
    assert "exhaustive" in out and "(default: gits-dev)" in out and "(default: 5)" in out


def test_no_command_prints_help_and_fails(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([])
    assert e.value.code == 2 and "commands:" in capsys.readouterr().err


BAD = [
    (["nope"], "invalid choice: 'nope'"),
    (["schedule", "--steps", "0"], "--steps must be an integer >= 1, got 0"),
    (["schedule", "--steps", "-3"], "--steps must be an integer >= 1, got -3"),
    (["schedule", "--steps", "100"], "--steps 100 needs a grid of more than 100 points"),
    (["schedule", "--steps", "abc"], "invalid int value: 'abc'"),
    (["schedule", "--gamma", "-1"], "--gamma must be a finite number > 0"),
    (["schedule", "--gamma", "nan"], "--gamma must be a finite number > 0, got nan"),
    (["schedule", "--warmup", "-1"], "--warmup must be an integer >= 1, got -1"),
    (["schedule", "--grid", "1"], "--grid must be >= 2 points"),
    (["schedule", "--method", "polynomial", "--grid", "11"], "--grid does not apply"),
    (["schedule", "--method", "polynomial", "--warmup", "8"], "--warmup does not apply to"),
    (["schedule", "--method", "oss", "--gamma", "1.2"], "--gamma does not apply to --method oss"),
    (["schedule", "--guidance", "3"], "--guidance applies to text-conditioned pipelines"),
    (["schedule", "--method", "nope"], "argument --method: invalid choice"),
    (["schedule", "--solver", "nope"], "argument --solver: invalid choice"),
    (["schedule", "--method", "oss", "--solver", "heun"], "--solver must be one of euler, ipndm"),
    (["schedule", "--method", "exhaustive", "--grid", "61", "--steps", "10"], "would enumerate"),
    (["schedule", "--model", "nope"], "--model 'nope' is not registered"),
    (["schedule", "--device", "tpu"], "--device 'tpu'"),
    (["schedule", "--format", "nope"], "argument --format: invalid choice"),
    (["schedule", "--format", "diffusers-dpm-solver"], "needs a --pipeline"),
    (["schedule", "--format", "diffusers-flow-euler"], "needs a flow-matching --pipeline"),
    (["schedule", "--model", "fmnist-edm", "--pipeline", "x"], "not both"),
    (["schedule", "--prompts", "p.txt"], "--prompts goes with"),
    (["schedule", "--pipeline", "/nonexistent/folder"], "no model_index.json"),
    (["schedule", "--batch-size", "0"], "--batch-size must be"),
    (["schedule", "--seed", "-1"], "--seed must be >= 0"),
    (["schedule", "--guidance", "0", "--method", "polynomial"], "--guidance must be"),
    (["gits", "--steps", "0"], "--steps must be an integer >= 1"),
    (["gits", "--gamma", "nan"], "--gamma must be a finite number > 0"),
    (["gits", "--warmup", "-1"], "--warmup must be an integer >= 1"),
    (["gits", "--steps", "100"], "--steps 100 needs a grid"),
]


@pytest.fixture
def no_model(monkeypatch):
    """Fail the test if any model is loaded (the checks must come first)."""
    def refuse(*_, **__):
        raise AssertionError("a model was loaded before the arguments were checked")
    monkeypatch.setattr(models, "load", refuse)


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_user_errors_give_one_clear_message(capsys, no_model, argv, message):
    with pytest.raises(SystemExit) as e:
        cli.main([*argv, "--quiet"] if argv[0] in ("schedule", "gits") else argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("trajreg") and "error:" in last and message in last


def test_cuda_without_a_gpu(capsys, no_model):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit):
        cli.main(["schedule", "--device", "cuda", "--quiet"])
    assert "no CUDA device is available" in capsys.readouterr().err
    cli.main(["schedule", "--device", "cuda", "--method", "polynomial"])   # needs no model
    assert json.loads(capsys.readouterr().out)[0] == 80.0


def test_unreachable_model_data_is_one_message(capsys, monkeypatch):
    def offline(*_, **__):
        raise OSError("<urlopen error [Errno -2] Name or service not known>")
    monkeypatch.setattr(models, "load", offline)
    with pytest.raises(SystemExit):
        cli.main(["schedule", "--model", "kde-cifar10", "--quiet", "--grid", "6", "--steps", "2"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "could not load model 'kde-cifar10'" in err


@pytest.mark.parametrize("method", ["gits-dev", "oss", "exhaustive", "learned"])
@pytest.mark.parametrize("fault, message", [("shape", "returned shape"), ("nan", "NaN")])
def test_faulty_denoiser_stops_the_search(capsys, monkeypatch, method, fault, message):
    def D(x, sigma):
        return x[:, :, :3] if fault == "shape" else torch.full_like(x, float("nan"))
    monkeypatch.setattr(models, "load", lambda *_, **__: D)
    with pytest.raises(SystemExit) as e:
        cli.main(["schedule", "--method", method, "--solver", "euler", "--steps", "2", "--warmup", "2",
                  "--quiet", *(["--grid", "6"] if method != "learned" else [])])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err and message in err


# --- tiny diffusers pipelines -------------------------------------------------------------------


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    import _tiny

    root = tmp_path_factory.mktemp("cli-pipelines")
    return {"pixel": _tiny.pixel(root / "pixel"), "latent": _tiny.latent(root / "latent"),
            "flow": _tiny.flow(root / "flow"), "prompts": _tiny.prompts_file(root)}


@pytest.mark.parametrize("kind, fmt", [("pixel", "diffusers-dpm-solver"), ("latent", "diffusers"),
                                       ("flow", "diffusers-flow-euler"), ("flow", "comfyui"),
                                       ("latent", "json")])
def test_pipeline_schedules_and_exports(capsys, folders, kind, fmt):
    argv = ["schedule", "--pipeline", str(folders[kind]), "--steps", "3", "--warmup", "4", "--grid", "11",
            "--format", fmt, "--device", "cpu", "--quiet"]
    if kind != "pixel":
        argv += ["--prompts", str(folders["prompts"])]
    cli.main(argv)
    out = capsys.readouterr()
    assert "gits-dev: search NFE 40 " in out.err
    if fmt == "comfyui":
        levels = [float(v) for v in out.out.strip().split(", ")]
        assert len(levels) == 4 and levels[-1] == 0.0 and "e" not in out.out
    elif fmt == "json":
        rec = json.loads(out.out)
        assert rec["steps"] == 3 and rec["search_nfe"] == 40 and rec["method"] == "gits-dev"
    elif fmt == "diffusers":
        levels = json.loads(out.out)
        assert len(levels) == 4 and levels[-1] == 0.0 and levels[0] == pytest.approx(14.6146, abs=1e-4)
    else:
        exp = json.loads(out.out)
        assert exp["nfe"] == 3 and exp["scheduler"] in ("DPMSolverMultistepScheduler",
                                                        "FlowMatchEulerDiscreteScheduler")


def test_fixed_method_on_a_pipeline_needs_no_device(capsys, folders):
    cli.main(["schedule", "--pipeline", str(folders["pixel"]), "--method", "polynomial", "--steps", "2",
              "--device", "cuda:7"])
    sigmas = json.loads(capsys.readouterr().out)
    assert sigmas[0] == pytest.approx(157.40727, rel=1e-6) and len(sigmas) == 3


def test_pipeline_format_mismatch_is_caught_before_the_search(capsys, folders, monkeypatch):
    monkeypatch.setattr(search, "search", lambda *_, **__: pytest.fail("searched"))
    with pytest.raises(SystemExit):
        cli.main(["schedule", "--pipeline", str(folders["flow"]), "--prompts", str(folders["prompts"]),
                  "--format", "diffusers", "--quiet"])
    assert "use --format diffusers-flow-euler" in capsys.readouterr().err


def test_ays_takes_real_samples_from_data_and_checks_them(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 3, 28, 28), np.float32))
    with pytest.raises(SystemExit) as e:
        cli.main(["schedule", "--method", "ays", "--data", str(bad), "--device", "cpu", "--quiet"])
    assert e.value.code == 2 and "--data must hold N >= 2 finite samples of shape (1, 28, 28)" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["schedule", "--method", "gits-dev", "--data", str(bad), "--device", "cpu"])
    assert "--data does not apply to --method gits-dev" in capsys.readouterr().err
    a = cli._parser().parse_args(["schedule", "--method", "ays"])
    x = cli._ays_data(a, cli._Model("fmnist-edm", "cpu", load=False))     # the shipped training images
    assert x.shape == (cli.AYS_DATA, 1, 28, 28) and float(x.min()) >= -1 and float(x.max()) <= 1


def test_ays_search_receives_the_samples(tmp_path, capsys, monkeypatch):
    good = tmp_path / "x0.npy"
    np.save(good, np.linspace(-1, 1, 6 * 784, dtype=np.float32).reshape(6, 1, 28, 28))
    seen = {}

    def fake_search(method, D, noise, K, solver, **kw):
        seen.update(kw, method=method, K=K)
        return search.SearchResult("ays", schedules.polynomial(K + 1), 0, 0.0)

    monkeypatch.setattr(search, "search", fake_search)
    cli.main(["schedule", "--method", "ays", "--steps", "4", "--data", str(good), "--device", "cpu",
              "--quiet"])
    assert seen["method"] == "ays" and seen["K"] == 4 and seen["x0"].shape == (6, 1, 28, 28)
    torch.testing.assert_close(seen["x0"], torch.from_numpy(np.load(good)))
