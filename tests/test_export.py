"""Round trips of every export through the real scheduler: the levels it steps through and its
model calls equal the schedule and K (trajreg.export)."""

import json
import re

import pytest
import torch

pytest.importorskip("diffusers")

from diffusers import DDPMScheduler  # noqa: E402

from trajreg import export, schedules  # noqa: E402

ALPHAS = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012).alphas_cumprod
TABLE = (1 / ALPHAS.double() - 1).sqrt()          # sigma at each integer timestep, increasing
F32 = dict(rtol=2e-6, atol=0)                     # the schedulers keep float32 levels


def walk(sched, model_output=None):
    """Run the scheduler's loop on a 1x1x2x2 state; (levels stepped through, model calls, increments)."""
    x = torch.zeros(1, 1, 2, 2)
    levels, calls, steps = [float(sched.sigmas[0])], 0, []
    for t in sched.timesteps:
        if hasattr(sched, "scale_model_input"):
            sched.scale_model_input(x, t)
        calls += 1
        out = torch.ones_like(x) if model_output is None else model_output(x, t)
        x_next = sched.step(out, t, x, return_dict=False)[0]
        steps.append(float((x_next - x).flatten()[0]))
        levels.append(float(sched.sigmas[sched.step_index]))
        x = x_next
    return torch.tensor(levels, dtype=torch.float64), calls, steps


def on_table(K: int) -> torch.Tensor:
    """A K-step schedule on integer timesteps 999 > ... > 0 (what a VP grid search returns)."""
    inner = torch.randperm(998, generator=torch.Generator().manual_seed(K))[: K - 1] + 1
    return TABLE[torch.cat([torch.tensor([999]), inner.sort(descending=True).values, torch.tensor([0])])]


def expected(s: torch.Tensor, final: str = "zero") -> torch.Tensor:
    e = s.clone()
    if final == "zero":
        e[-1] = 0.0
    return e.to(torch.float32).double()


@pytest.mark.parametrize("final", ["zero", "keep"])
def test_euler_discrete_steps_through_the_schedule(final):
    s = schedules.polynomial(5, float(TABLE[0]), float(TABLE[-1]))          # fractional levels
    exp = export.euler_discrete(s, final)
    sched = exp.build({"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012})
    levels, calls, steps = walk(sched)
    torch.testing.assert_close(levels, expected(s, final), **F32)
    assert calls == exp.nfe == 4
    # epsilon prediction 1: each step moves x by exactly sigma_next - sigma
    torch.testing.assert_close(torch.tensor(steps, dtype=torch.float64), levels.diff(), rtol=1e-5, atol=1e-6)


def test_edm_euler_inverts_its_ramp():
    s = schedules.polynomial(7, 0.002, 80.0) ** 1.1 / 2
    exp = export.edm_euler(s)
    levels, calls, _ = walk(exp.build())
    torch.testing.assert_close(levels, expected(s), rtol=2e-5, atol=0)
    assert calls == exp.nfe == 6
    # the trap it avoids: real sigmas passed as the ramp
    from diffusers import EDMEulerScheduler

    naive = EDMEulerScheduler()
    naive.set_timesteps(sigmas=torch.as_tensor(s))
    assert float(naive.sigmas[0]) < -1e10 and len(naive.sigmas) == len(s) + 1
    with pytest.raises(ValueError, match="K >= 2"):
        export.edm_euler(torch.tensor([80.0, 0.002]))


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_flow_match_euler_is_not_shifted(shift):
    s = schedules.polynomial(5, 0.003, 999.0)
    t = s / (1 + s)
    exp = export.flow_match_euler(s)
    sched = exp.build({"shift": shift, "num_train_timesteps": 1000})
    levels, calls, steps = walk(sched)
    want = t.clone()
    want[-1] = 0.0
    torch.testing.assert_close(levels, want.float().double(), **F32)
    assert calls == exp.nfe == 4
    torch.testing.assert_close(sched.timesteps.double(), (want[:-1] * 1000).float().double(), **F32)
    # v = 1: each step moves x by exactly t_next - t
    torch.testing.assert_close(torch.tensor(steps, dtype=torch.float64), levels.diff(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("final", ["zero", "keep"])
def test_dpm_solver_takes_table_schedules_exactly(final):
    s = on_table(5)
    exp = export.dpm_solver(s, ALPHAS, final)
    sched = exp.build({"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012})
    levels, calls, _ = walk(sched)
    torch.testing.assert_close(levels, expected(s, final), **F32)
    assert calls == exp.nfe == 5


def test_dpm_solver_refuses_what_it_cannot_take():
    s = schedules.polynomial(5, float(TABLE[0]), float(TABLE[-1]))
    with pytest.raises(ValueError, match="integer timesteps only"):
        export.dpm_solver(s, ALPHAS)
    s = on_table(4)
    s[-1] = 0.05
    with pytest.raises(ValueError, match="final='keep'"):
        export.dpm_solver(s, ALPHAS, "keep")


def manual_sigmas(text: str) -> torch.Tensor:
    """ComfyUI core's ManualSigmas.execute, re-implemented from its source (Comfy-Org/ComfyUI,
    comfy_extras/nodes_custom_sampler.py, commit 4be318aa): every match of the regex
    [-+]?(?:\\d*\\.*\\d+) becomes a float, the list a torch.FloatTensor."""
    return torch.tensor([float(m) for m in re.findall(r"[-+]?(?:\d*\.*\d+)", text)], dtype=torch.float32)


def test_comfyui_string_parses_back_to_the_schedule():
    s = torch.tensor([157.40726936571173, 2.5, 0.0025, 1.3e-5, 1e-6], dtype=torch.float64)
    text = export.comfyui(s)
    assert "e" not in text and text.endswith(", 0.0")
    parsed = manual_sigmas(text)
    torch.testing.assert_close(parsed, expected(s).float(), rtol=0, atol=0)
    # the trap: scientific notation splits into two numbers
    assert manual_sigmas("2.5e-3").tolist() == [2.5, -3.0]
    # and the parsed SIGMAS step K times through a k-diffusion-convention sampler (Euler)
    sched = export.euler_discrete(parsed.double()).build()
    levels, calls, _ = walk(sched)
    assert calls == len(s) - 1
    torch.testing.assert_close(levels, expected(s), **F32)


def test_k_diffusion_tensor_has_k_plus_one_levels_ending_at_zero():
    # k-diffusion (not installed here: its package imports kornia, clean-fid, ...) loops
    # zip(sigmas[:-1], sigmas[1:]); the same verbatim contract as EulerDiscreteScheduler's sigmas
    s = schedules.polynomial(6, 0.002, 80.0)
    kd = export.k_diffusion(s)
    assert kd.dtype == torch.float32 and len(kd) == 6 and kd[-1] == 0
    levels, calls, _ = walk(export.euler_discrete(kd.double()).build())
    assert calls == 5
    torch.testing.assert_close(levels, kd.double(), rtol=0, atol=0)
    assert export.k_diffusion(s, "keep")[-1] == pytest.approx(0.002)


def test_json_round_trips_exactly():
    s = schedules.polynomial(6, 0.002, 80.0)
    rec = json.loads(export.to_json(s, method="gits-dev", model="fmnist-edm"))
    assert torch.equal(torch.tensor(rec["sigmas"], dtype=torch.float64), s)
    assert rec["steps"] == 5 and rec["method"] == "gits-dev"
    assert json.loads(export.to_json(s, "zero"))["sigmas"][-1] == 0.0


def test_bad_arguments_name_the_parameter():
    s = schedules.polynomial(4)
    with pytest.raises(ValueError, match="final"):
        export.euler_discrete(s, "append")
    with pytest.raises(ValueError, match="descending"):
        export.comfyui(s.flip(0))
    with pytest.raises(ValueError, match="rho"):
        export.edm_euler(s, rho=0)
