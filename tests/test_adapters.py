"""trajreg.adapters end to end on tiny pipelines built from configs (tests/_tiny.py): load from disk,
map into EDM's sigma space, search, export, sample through the real diffusers scheduler."""

import math

import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import _tiny  # noqa: E402
from diffusers import DDPMScheduler, FlowMatchEulerDiscreteScheduler  # noqa: E402

from trajreg import adapters, checked, data, export, sd, search, solvers  # noqa: E402


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipelines")
    return {"pixel": _tiny.pixel(root / "pixel"), "latent": _tiny.latent(root / "latent"),
            "flow": _tiny.flow(root / "flow"), "prompts": _tiny.prompts_file(root)}


@pytest.fixture(scope="module")
def models(folders):
    return {"pixel": adapters.load(folders["pixel"]),
            "latent": adapters.load(folders["latent"], _tiny.PROMPTS),
            "flow": adapters.load(folders["flow"], _tiny.PROMPTS)}


def _noise(m, n=2, seed=0):
    return data.noise(range(seed, seed + n), m.shape, torch.float32)


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction", "sample"])
def test_vp_mapping_matches_the_schedulers_x0(tmp_path, prediction):
    # D(x, sigma_k) at table level k equals DDPMScheduler's own pred_original_sample
    m = adapters.load(_tiny.pixel(tmp_path / prediction, prediction))
    ref = DDPMScheduler(prediction_type=prediction, clip_sample=False)
    k = 600
    ac = ref.alphas_cumprod[k].double()
    x_vp = torch.randn(2, *m.shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = m.pipe.unet(x_vp, torch.tensor([k, k])).sample
    want = ref.step(out, k, x_vp).pred_original_sample
    sigma = float(((1 - ac) / ac).sqrt())
    got = m.denoiser(x_vp / ac.sqrt().float(), sigma)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_flow_mapping_is_one_euler_step_to_t_zero(models):
    # sigma = t / (1 - t): D(x_t / (1 - t), sigma) = the scheduler's step from t to 0 with the same v
    m, t = models["flow"], 0.6
    sigma = t / (1 - t)
    x_t = torch.randn(2, *m.shape, generator=torch.Generator().manual_seed(2))
    got = m.denoiser(x_t / (1 - t), sigma)
    with torch.no_grad():
        v = m.denoiser.D.denoiser.net(x_t, torch.tensor([t * 1000] * 2))
    sched = FlowMatchEulerDiscreteScheduler(shift=1.0)
    sched.set_timesteps(sigmas=[t])
    want = sched.step(v, sched.timesteps[0], x_t).prev_sample
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    # range: t from 1 - 1/N to the scheduler's smallest shifted time 3 (1/N) / (1 + 2/N), N = 1000
    t_min = 3e-3 / 1.002
    assert m.sigma_max == 999.0 and m.sigma_min == pytest.approx(t_min / (1 - t_min), rel=1e-6)


def test_thresholding_follows_each_kind(models):
    from trajreg import models as registry
    from trajreg import schedules

    fmnist = registry.load("fmnist-edm")                         # registered pixel model: as before
    assert solvers.thresholds(fmnist) and solvers.thresholds(checked.checked(fmnist))
    x, s = 80.0 * torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0)), schedules.logsnr(4)
    torch.testing.assert_close(solvers.unipc(fmnist, x, s), solvers.unipc(fmnist, x, s, thresholding=True),
                               rtol=0, atol=0)
    assert solvers.thresholds(models["pixel"].denoiser)          # pixels in [-1, 1]
    assert not solvers.thresholds(models["latent"].denoiser)     # latents
    assert not solvers.thresholds(models["flow"].denoiser)       # flow model


def _gits(m, K=3):
    grid = m.grid(11)
    r = search.search("gits-dev", m.denoiser, _noise(m), K, "euler", grid=grid)
    assert set(r.sigmas.tolist()) <= set(grid.tolist())
    return r.sigmas


def test_pixel_pipeline_euler_and_dpm_solver_round_trip(models):
    m = models["pixel"]
    s = _gits(m)
    z = _noise(m, 2, seed=5)
    exp = export.euler_discrete(s)
    sched = exp.build(m.pipe.scheduler.config)
    x, calls = float(s[0]) * z, 0
    with torch.no_grad():
        for t in sched.timesteps:
            calls += 1
            eps = m.pipe.unet(sched.scale_model_input(x, t), t).sample
            x = sched.step(eps, t, x).prev_sample
    assert calls == 3
    torch.testing.assert_close(x, solvers.euler(m.denoiser, float(s[0]) * z, export.k_diffusion(s)),
                               rtol=1e-4, atol=1e-4)
    # the grid's integer timesteps make the schedule exportable to DPM-Solver exactly
    dpm = export.dpm_solver(s, m.pipe.scheduler.alphas_cumprod).build(m.pipe.scheduler.config)
    torch.testing.assert_close(dpm.sigmas.double(), export.k_diffusion(s).double(), rtol=2e-6, atol=0)
    assert len(dpm.timesteps) == 3


def test_latent_pipeline_samples_the_schedule_through_the_pipeline(models):
    m = models["latent"]
    s = _gits(m)
    exp = export.euler_discrete(s)
    m.pipe.scheduler = exp.build(m.pipe.scheduler.config)
    z = _noise(m, 2, seed=7)
    with sd.count_unet_calls(m.pipe.unet) as n, torch.no_grad():
        out = m.pipe(_tiny.PROMPTS, latents=z.clone(), output_type="latent", guidance_scale=adapters.GUIDANCE,
                     **exp.pipeline_kwargs).images
    assert n.calls == exp.nfe == 3
    x0 = z * m.pipe.scheduler.init_noise_sigma                  # the pipeline scales its latents
    want = solvers.euler(m.denoiser, x0, export.k_diffusion(s))
    torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-4)


def test_flow_pipeline_samples_the_schedule_through_the_pipeline(models):
    m = models["flow"]
    s = _gits(m)
    exp = export.flow_match_euler(s)
    m.pipe.scheduler = exp.build(m.pipe.scheduler.config)
    z = _noise(m, 2, seed=9)
    with sd.count_unet_calls(m.pipe.transformer) as n, torch.no_grad():
        out = m.pipe(_tiny.PROMPTS, latents=z.clone(), output_type="latent", guidance_scale=adapters.GUIDANCE,
                     height=8, width=8, **exp.pipeline_kwargs).images
    assert n.calls == exp.nfe == 3
    x0 = (1 + float(s[0])) * z                                   # x = x_t / (1 - t) at t_0
    want = solvers.euler(m.denoiser, x0, export.k_diffusion(s))
    torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-4)


def test_user_errors_are_named(folders, tmp_path):
    with pytest.raises(ValueError, match="model_index.json"):
        adapters.load(tmp_path)
    with pytest.raises(ValueError, match="pass prompts"):
        adapters.load(folders["latent"])
    with pytest.raises(ValueError, match="takes no prompts"):
        adapters.load(folders["pixel"], ["a cat"])
    with pytest.raises(ValueError, match="no prompt"):
        adapters.read_prompts(_tiny.prompts_file(tmp_path, [" ", ""]))
    with pytest.raises(ValueError, match="does not exist"):
        adapters.read_prompts(tmp_path / "missing.txt")
    bad = _tiny.pixel(tmp_path / "bad", "sample")
    cfg = (bad / "scheduler" / "scheduler_config.json")
    cfg.write_text(cfg.read_text().replace('"sample"', '"flow"'))
    with pytest.raises(ValueError, match="prediction_type='flow'.*epsilon"):
        adapters.load(bad)
    cls = _tiny.pixel(tmp_path / "classes")
    cfg = cls / "unet" / "config.json"
    cfg.write_text(cfg.read_text().replace('"num_class_embeds": null', '"num_class_embeds": 10'))
    with pytest.raises(ValueError, match="num_class_embeds.*supported"):
        adapters.load(cls)


def test_prompt_batches_must_divide(models):
    m = models["latent"]
    with pytest.raises(ValueError, match="prompt"):
        m.denoiser(torch.zeros(3, *m.shape), 1.0)


@pytest.mark.parametrize("method", ["gits-dev", "oss", "exhaustive", "learned"])
@pytest.mark.parametrize("fault", ["shape", "nan"])
def test_checked_denoiser_fails_loudly_in_every_search(method, fault):
    def D(x, sigma):
        if fault == "shape":
            return x[:, :1] * 0.5
        s = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, *[1] * (x.ndim - 1))
        out = x / (1 + s**2)
        return torch.where(s < 1, torch.full_like(out, math.nan), out)

    noise = torch.randn(4, 2, 3)
    kw = {"grid": 6} if method in ("gits-dev", "oss", "exhaustive") else {"iters": 2}
    with pytest.raises(ValueError, match="shape|NaN"):
        search.search(method, checked.checked(D), noise, 3, "euler", **kw)
