"""trajreg.sd on a tiny randomly initialised Stable Diffusion pipeline built from configs (no download)."""

import json
import math

import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from diffusers import (  # noqa: E402
    AutoencoderKL,
    DPMSolverMultistepScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer  # noqa: E402

from trajreg import gits, sd, solvers  # noqa: E402

# SD v1.5's noise schedule (its scheduler_config.json): scaled-linear betas 0.00085..0.012, 1000 steps.
SD_BETAS = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)
PROMPTS = ["a cat", "red dog", "the sea", "tiny bird"]


def _tokenizer(folder):
    """A CLIP BPE tokenizer over single letters (no merges), written to ``folder``."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for c in "abcdefghijklmnopqrstuvwxyz":
            vocab[c + suffix] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=12)


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    torch.manual_seed(0)
    tok = _tokenizer(tmp_path_factory.mktemp("tokenizer"))
    text = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=12, bos_token_id=0, eos_token_id=1, pad_token_id=1))
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
        attention_head_dim=2, norm_num_groups=4)
    vae = AutoencoderKL(
        block_out_channels=(8,), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=4,
        down_block_types=("DownEncoderBlock2D",), up_block_types=("UpDecoderBlock2D",), sample_size=8)
    p = StableDiffusionPipeline(
        vae=vae, text_encoder=text, tokenizer=tok, unet=unet,
        scheduler=DPMSolverMultistepScheduler(**SD_BETAS, steps_offset=1), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False)
    p.set_progress_bar_config(disable=True)
    return p


@pytest.fixture(scope="module")
def vp(pipe):
    return sd.DiscreteVP(pipe.scheduler.alphas_cumprod)


@pytest.fixture(scope="module")
def warm(pipe):
    return sd.warmup(pipe, PROMPTS, n_grid=13, batch_size=3)


def _embeddings(pipe, prompts):
    with torch.no_grad():
        return pipe.encode_prompt(prompts, "cpu", 1, True)


def test_grid_is_the_official_sd_discrete_schedule(vp):
    # the 61-point 'discrete' rho=1 grid of the official code for SD v1.5 (reference/official-code.md)
    grid = vp.grid(61)
    official = {0: 14.6146, 1: 13.2257, 10: 5.9489, 30: 1.6156, 38: 1.0421, 50: 0.4936,
                59: 0.1258, 60: 0.0292}
    for i, value in official.items():
        assert float(grid[i]) == pytest.approx(value, abs=6e-5)
    assert (grid[1:] < grid[:-1]).all()
    k = vp.timestep(grid)                              # uniform in the timestep, 999 -> 0
    assert torch.allclose(k, torch.linspace(999, 0, 61, dtype=torch.float64), atol=1e-9)
    assert vp.sigma_max == pytest.approx(14.6146, abs=1e-4)
    assert vp.sigma_min == pytest.approx(0.0292, abs=1e-4)


def test_timestep_and_sigma_are_inverse(vp):
    k = torch.tensor([0.0, 1.0, 17.25, 500.0, 998.5, 999.0], dtype=torch.float64)
    assert torch.allclose(vp.timestep(vp.sigma(k)), k, atol=1e-8)
    assert torch.allclose(vp.sigma(torch.arange(1000.0)), vp.sigmas, rtol=1e-12)
    with pytest.raises(ValueError, match="sigma"):
        vp.timestep(0.0)


def test_denoiser_agrees_with_the_scheduler_x0_prediction(pipe, vp):
    cond, uncond = _embeddings(pipe, PROMPTS[:2])
    D = sd.CFGDenoiser(pipe.unet, vp, cond, uncond, guidance_scale=7.5)
    k = 500
    sigma = vp.sigmas[k]
    sch = sd.SigmaDPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    sch.set_timesteps(sigmas=[float(sigma), 0.0])
    assert float(sch.timesteps[0]) == k                # a grid sigma gives the integer timestep
    x_vp = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        eps_u, eps_c = pipe.unet(torch.cat([x_vp, x_vp]), torch.tensor(k),
                                 encoder_hidden_states=torch.cat([uncond, cond])).sample.chunk(2)
        sch._init_step_index(sch.timesteps[0])
        x0_scheduler = sch.convert_model_output(eps_u + 7.5 * (eps_c - eps_u), sample=x_vp)
        x0_ours = D(x_vp * math.sqrt(1 + float(sigma) ** 2), float(sigma))
        x0_unguided = sd.CFGDenoiser(pipe.unet, vp, cond, uncond, 1.0)(
            x_vp * math.sqrt(1 + float(sigma) ** 2), float(sigma))
    assert torch.allclose(x0_ours, x0_scheduler, atol=1e-5)
    assert (x0_ours - x0_unguided).abs().max() > 1e-3  # guidance is not a no-op in this model


def test_gits_schedule_inside_the_model_range(warm, vp):
    assert warm.x.shape == (13, 4, 4, 8, 8) and warm.denoised.shape == (12, 4, 4, 8, 8)
    for K in (1, 4, 12):
        s = sd.search(warm, K)
        assert s.shape == (K + 1,) and (s[1:] < s[:-1]).all()
        assert float(s[0]) == pytest.approx(vp.sigma_max) and float(s[-1]) == pytest.approx(vp.sigma_min)
        assert all(bool((warm.sigmas == v).any()) for v in s)   # a subset of the warm-up grid
    table = sd.search(warm, [2, 5], gamma=1.2)
    assert sorted(table) == [2, 5] and torch.equal(table[5], sd.search(warm, 5, gamma=1.2))
    # the defaults are the official SD command's: metric "dev", gamma 1.20
    path = gits.optimal_path(gits.cost_matrix(warm, "dev"), 4, 1.20)
    assert torch.equal(sd.search(warm, 4), warm.sigmas[path])


def test_official_teacher_records_its_own_steps(pipe, vp, warm):
    # the warm-up's last state is what dpm_2m_eps returns, and every state follows from the previous
    cond, uncond = _embeddings(pipe, PROMPTS[:3])
    D = sd.CFGDenoiser(pipe.unet, vp, cond, uncond)
    z = torch.randn((4, 4, 8, 8), generator=torch.Generator().manual_seed(0))[:3]
    with torch.no_grad():
        final = solvers.dpm_2m_eps(D, float(warm.sigmas[0]) * z, warm.sigmas)
    assert torch.allclose(final, warm.x[-1, :3], atol=1e-5)
    assert torch.allclose(warm.x[0], float(warm.sigmas[0]) * torch.randn(
        (4, 4, 8, 8), generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("algorithm, final, teacher", [("dpmsolver++", "zero", solvers.dpmpp_2m),
                                                       ("dpmsolver", "keep", solvers.dpm_2m_eps)])
def test_schedule_reaches_the_pipeline_unchanged(pipe, vp, warm, algorithm, final, teacher):
    sigmas = sd.search(warm, 4)
    z = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    with sd.count_unet_calls(pipe.unet) as n, torch.no_grad():
        out = sd.generate(pipe, PROMPTS[:2], sigmas, final=final, algorithm_type=algorithm,
                          latents=z.clone(), output_type="latent").images
    sent = torch.tensor(gits.as_diffusers(sigmas, final), dtype=torch.float32)
    assert isinstance(pipe.scheduler, sd.SigmaDPMSolverMultistepScheduler)
    assert pipe.scheduler.config.algorithm_type == algorithm
    assert torch.equal(pipe.scheduler.sigmas, sent)    # our schedule, verbatim
    assert torch.equal(pipe.scheduler.timesteps, vp.timestep(sent[:-1]).float())
    assert n.calls == sd.steps(sigmas, final) == 4    # one UNet call (doubled batch) per step
    assert sd.nfe(sigmas, final) == 8                  # the paper's count: 1 step = 2 NFE with CFG
    # the pipeline's sampler is the sigma-space solver on our denoiser (VE x = VP latent / alpha)
    cond, uncond = _embeddings(pipe, PROMPTS[:2])
    D = sd.CFGDenoiser(pipe.unet, vp, cond, uncond)
    with torch.no_grad():
        x = teacher(D, z * math.sqrt(1 + float(sent[0]) ** 2), sent)
    assert torch.allclose(out, x / math.sqrt(1 + float(sent[-1]) ** 2), atol=1e-4)


def test_nfe_counts_unet_calls_for_other_lengths(pipe, warm):
    sigmas = sd.search(warm, 3)
    assert sd.steps(sigmas) == 3 and sd.steps(sigmas, "append") == 4
    assert sd.nfe(sigmas) == 6 and sd.nfe(sigmas, guidance_scale=1.0) == 3
    with sd.count_unet_calls(pipe.unet) as n, torch.no_grad():
        sd.generate(pipe, "a cat", sigmas, final="append", output_type="latent")
    assert n.calls == 4
    with sd.count_unet_calls(pipe.unet) as n, torch.no_grad():
        sd.generate(pipe, "a cat", sigmas, guidance_scale=1.0, output_type="latent")
    assert n.calls == 3                                # no CFG: still one call per step


def test_scheduler_rejects_bad_input(pipe):
    sch = sd.SigmaDPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    with pytest.raises(ValueError, match="sigmas alone"):
        sch.set_timesteps(num_inference_steps=4, sigmas=[14.6, 1.0, 0.0])
    with pytest.raises(ValueError, match="descending"):
        sch.set_timesteps(sigmas=[1.0, 14.6, 0.0])
    noise_pred = sd.SigmaDPMSolverMultistepScheduler.from_config(
        pipe.scheduler.config, algorithm_type="dpmsolver", final_sigmas_type="sigma_min")
    with pytest.raises(ValueError, match="sigma = 0"):
        noise_pred.set_timesteps(sigmas=[14.6, 1.0, 0.0])
    sch.set_timesteps(num_inference_steps=5)           # without sigmas: the parent scheduler
    assert len(sch.timesteps) == 5
    with pytest.raises(ValueError, match="algorithm_type"):
        sd.set_scheduler(pipe, "unipc")
    with pytest.raises(ValueError, match="teacher"):
        sd.warmup(pipe, PROMPTS, teacher="unipc")
    with pytest.raises(ValueError, match="prompts"):
        sd.warmup(pipe, "a cat")


def test_read_captions(tmp_path):
    path = tmp_path / "captions.csv"
    path.write_text("text\na cat on a mat\n\"two dogs, running\"\n", encoding="utf-8")
    assert sd.read_captions(path) == ["a cat on a mat", "two dogs, running"]
    with pytest.raises(ValueError, match="column"):
        sd.read_captions(path, column="caption")


def test_sd_uses_only_public_solver_api():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(sd))
    private = [f"{n.value.id}.{n.attr}" for n in ast.walk(tree)
               if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
               and n.value.id in ("solvers", "gits", "trajectory") and n.attr.startswith("_")]
    assert not private, private
    assert "dpm_2m_eps" in solvers.SOLVERS and "dpm_2m_eps" in sd.TEACHERS



def test_table2_nfe_convention_and_ays_schedule_reach_the_pipeline(pipe, vp):
    assert sd.TABLE2_STEPS == {10: 5, 12: 6, 14: 7, 16: 8}
    s = sd.ays_sigmas(10, vp)
    assert len(s) == 11 and float(s[0]) == vp.sigma_max and float(s[-1]) == vp.sigma_min
    assert torch.allclose(s[1:-1], torch.tensor(sd.AYS_SD15[1:-1], dtype=torch.float64))
    assert sd.nfe(s, "keep") == 20 and sd.steps(s, "keep") == 10
    z = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))
    with sd.count_unet_calls(pipe.unet) as n, torch.no_grad():
        sd.generate(pipe, PROMPTS[:1], s, final="keep", latents=z, output_type="latent")
    assert n.calls == 10
    assert torch.equal(pipe.scheduler.sigmas, torch.tensor(gits.as_diffusers(s, "keep"), dtype=torch.float32))
    s5 = sd.ays_sigmas(5)
    assert len(s5) == 6 and float(s5[0]) == sd.AYS_SD15[0] and bool((s5[1:] < s5[:-1]).all())
    with pytest.raises(ValueError, match="n_steps"):
        sd.ays_sigmas(0)
