"""Tiny randomly initialised diffusers pipelines built from configs, saved to a folder (no download).

A few thousand parameters each, 8x8 samples: an unconditional pixel UNet (DDPM schedule), a
text-conditioned latent UNet (Stable Diffusion layout) and a flow-matching transformer (SD3
layout, without its T5 encoder). Shared by the adapter, export and CLI tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

SD_BETAS = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)
PROMPTS = ["a cat", "red dog"]


def _tokenizer(folder: Path, max_length: int = 12):
    """A CLIP BPE tokenizer over single letters (no merges), written to ``folder``."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for c in "abcdefghijklmnopqrstuvwxyz":
            vocab[c + suffix] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=max_length)


def _vae(latent_channels: int = 4, **kw):
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=(8,), in_channels=3, out_channels=3,
                         latent_channels=latent_channels, norm_num_groups=4,
                         down_block_types=("DownEncoderBlock2D",),
                         up_block_types=("UpDecoderBlock2D",), sample_size=8, **kw)


def pixel(folder: Path, prediction_type: str = "epsilon", seed: int = 0) -> Path:
    """DDPMPipeline: UNet2DModel (3 x 8 x 8) on a linear-beta DDPM schedule, weights drawn from ``seed``."""
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(seed)
    unet = UNet2DModel(sample_size=8, in_channels=3, out_channels=3, block_out_channels=(8, 16),
                       layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(prediction_type=prediction_type)).save_pretrained(folder)
    return folder


def latent(folder: Path, prediction_type: str = "epsilon") -> Path:
    """StableDiffusionPipeline: UNet2DConditionModel (4 x 8 x 8 latents), tiny CLIP text encoder."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    tok = _tokenizer(folder.parent / (folder.name + "-tok"))
    text = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=12, bos_token_id=0, eos_token_id=1, pad_token_id=1))
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
        attention_head_dim=2, norm_num_groups=4)
    StableDiffusionPipeline(
        vae=_vae(), text_encoder=text, tokenizer=tok, unet=unet,
        scheduler=EulerDiscreteScheduler(**SD_BETAS, prediction_type=prediction_type),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False).save_pretrained(folder)
    return folder


def flow(folder: Path, shift: float = 3.0) -> Path:
    """StableDiffusion3Pipeline: SD3Transformer2DModel (4 x 8 x 8), two tiny CLIP encoders, no T5."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    torch.manual_seed(0)
    tok = _tokenizer(folder.parent / (folder.name + "-tok"))
    cfg = CLIPTextConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=12, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1, projection_dim=16)
    transformer = SD3Transformer2DModel(
        sample_size=8, patch_size=1, in_channels=4, num_layers=1, attention_head_dim=8, num_attention_heads=2,
        joint_attention_dim=32, caption_projection_dim=16, pooled_projection_dim=32, out_channels=4)
    StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=shift), vae=_vae(),
        text_encoder=CLIPTextModelWithProjection(cfg), tokenizer=tok,
        text_encoder_2=CLIPTextModelWithProjection(cfg), tokenizer_2=tok,
        text_encoder_3=None, tokenizer_3=None).save_pretrained(folder)
    return folder


def prompts_file(folder: Path, prompts: list[str] = PROMPTS) -> Path:
    """The prompts, one per line, in ``folder``/prompts.txt."""
    path = folder / "prompts.txt"
    path.write_text("\n".join(prompts) + "\n")
    return path
