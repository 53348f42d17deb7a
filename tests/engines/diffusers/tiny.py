"""Tiny random diffusers pipelines built in-process (no download) and saved like real weights."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import T5Config, T5EncoderModel, T5Tokenizer, UMT5Config, UMT5EncoderModel

WORDS = "a the cat dog fox runs walks on in at beach city forest sunset night red blue car".split()


def tokenizer() -> T5Tokenizer:
    """A Unigram tokenizer from an in-memory vocabulary (transformers 5)."""
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [("\u2581" + w, -3.0) for w in WORDS]
    vocab += [(c, -5.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789,.!?"]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=64)


def _t5(umt5: bool = False):
    kwargs = dict(vocab_size=96, d_model=32, num_layers=2, num_heads=4, d_kv=8, d_ff=37)
    if umt5:
        return UMT5EncoderModel(UMT5Config(feed_forward_proj="gated-gelu", **kwargs))
    return T5EncoderModel(T5Config(**kwargs))


def _wan_transformer(
    layers: int = 2, heads: int = 2, head_dim: int = 12, ffn_dim: int = 32, **image
):
    from diffusers import WanTransformer3DModel

    in_channels = image.pop("in_channels", 16)  # 36 for image-to-video: noise, image, mask
    return WanTransformer3DModel(
        **image,
        patch_size=(1, 2, 2),
        num_attention_heads=heads,
        attention_head_dim=head_dim,
        in_channels=in_channels,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=ffn_dim,
        num_layers=layers,  # first-block caching needs at least two blocks
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=1024,
    )


def build_wan(path: Path, *, two_stage: bool = False, seed: int = 0, **transformer) -> Path:
    """Wan 2.1 layout; ``two_stage`` makes the Wan 2.2 A14B layout (transformer_2).

    ``transformer`` (layers, heads, head_dim, ffn_dim) widens the denoiser, for benchmarks.
    """
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline

    torch.manual_seed(seed)
    pipe = WanPipeline(
        tokenizer=tokenizer(),
        text_encoder=_t5(umt5=True),
        vae=AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        ),
        scheduler=UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        ),
        transformer=_wan_transformer(**transformer),
        transformer_2=_wan_transformer(**transformer) if two_stage else None,
        boundary_ratio=0.875 if two_stage else None,
    )
    pipe.save_pretrained(path)
    return path


def _wan_vae():
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )


def build_wan_i2v(path: Path, *, first_last: bool = False, seed: int = 0) -> Path:
    """Wan 2.1 image-to-video layout: a tiny CLIP vision encoder and its image processor, a
    transformer taking 16 noise + 16 condition + 4 mask channels and the image embeddings.
    ``first_last`` makes the first-last-frame (FLF2V) layout: two images' embeddings."""
    from diffusers import UniPCMultistepScheduler, WanImageToVideoPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(seed)
    vision = CLIPVisionConfig(
        hidden_size=4,
        projection_dim=4,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=32,
        intermediate_size=16,
        patch_size=4,
    )
    tokens = (32 // 4) ** 2 + 1  # patches and the class token
    image = {"in_channels": 36, "image_dim": 4}
    if first_last:
        image["pos_embed_seq_len"] = 2 * tokens
    pipe = WanImageToVideoPipeline(
        tokenizer=tokenizer(),
        text_encoder=_t5(umt5=True),
        vae=_wan_vae(),
        scheduler=UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        ),
        image_processor=CLIPImageProcessor(crop_size=32, size=32),
        image_encoder=CLIPVisionModel(vision),
        transformer=_wan_transformer(**image),
    )
    pipe.save_pretrained(path)
    return path


def build_wan_vace(path: Path, *, seed: int = 0) -> Path:
    """Wan VACE layout (reference images): a Wan transformer with one VACE block, whose
    control input is 96 channels (the video's two latents and the mask)."""
    from diffusers import UniPCMultistepScheduler, WanVACEPipeline, WanVACETransformer3DModel

    torch.manual_seed(seed)
    transformer = WanVACETransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=1024,
        vace_layers=[0],
        vace_in_channels=96,
    )
    pipe = WanVACEPipeline(
        tokenizer=tokenizer(),
        text_encoder=_t5(umt5=True),
        vae=_wan_vae(),
        scheduler=UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        ),
        transformer=transformer,
    )
    pipe.save_pretrained(path)
    return path


def build_wan22_i2v(path: Path, *, seed: int = 0) -> Path:
    """Wan 2.2 A14B image-to-video layout: two transformers (boundary_ratio), no image encoder,
    16 noise + 16 condition + 4 mask channels; it takes a last frame too."""
    from diffusers import UniPCMultistepScheduler, WanImageToVideoPipeline

    torch.manual_seed(seed)
    pipe = WanImageToVideoPipeline(
        tokenizer=tokenizer(),
        text_encoder=_t5(umt5=True),
        vae=_wan_vae(),
        scheduler=UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        ),
        transformer=_wan_transformer(in_channels=36),
        transformer_2=_wan_transformer(in_channels=36),
        boundary_ratio=0.875,
    )
    pipe.save_pretrained(path)
    return path


def build_cogvideox_i2v(path: Path, *, seed: int = 0) -> Path:
    """CogVideoX image-to-video layout (1.0 frame rule): the transformer takes the noise and
    the image latents (2 x 4 channels); rotary positions, so any size on the 16 px grid."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDPMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXTransformer3DModel,
    )

    torch.manual_seed(seed)
    pipe = CogVideoXImageToVideoPipeline(
        tokenizer=tokenizer(),
        text_encoder=_t5(),
        vae=AutoencoderKLCogVideoX(
            in_channels=3,
            out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=2,
            temporal_compression_ratio=4,
        ),
        transformer=CogVideoXTransformer3DModel(
            num_attention_heads=2,
            attention_head_dim=16,
            in_channels=8,
            out_channels=4,
            time_embed_dim=2,
            text_embed_dim=32,
            num_layers=1,
            sample_width=8,
            sample_height=8,
            sample_frames=9,
            patch_size=2,
            temporal_compression_ratio=4,
            max_text_seq_length=16,
            use_rotary_positional_embeddings=True,
            use_learned_positional_embeddings=False,
        ),
        scheduler=CogVideoXDPMScheduler(),
    )
    pipe.save_pretrained(path)
    return path


def build_ltx(path: Path, *, seed: int = 0) -> Path:
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    torch.manual_seed(seed)
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=2,
        caption_channels=32,
    )
    pipe = LTXPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=_t5(),
        tokenizer=tokenizer(),
        transformer=transformer,
    )
    pipe.save_pretrained(path)
    return path


def build_stable_audio(path: Path, *, seed: int = 0) -> Path:
    """Stable Audio layout at 320 Hz with room for 12.8 s (sample_size 512, hop 8)."""
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )

    torch.manual_seed(seed)
    text_encoder = _t5()
    pipe = StableAudioPipeline(
        vae=AutoencoderOobleck(
            encoder_hidden_size=6,
            downsampling_ratios=[2, 4],
            decoder_channels=3,
            decoder_input_channels=3,
            audio_channels=2,
            channel_multiples=[2, 4],
            sampling_rate=320,
        ),
        text_encoder=text_encoder,
        projection_model=StableAudioProjectionModel(
            text_encoder_dim=text_encoder.config.d_model,
            conditioning_dim=4,
            min_value=0,
            max_value=32,
        ),
        tokenizer=tokenizer(),
        transformer=StableAudioDiTModel(
            sample_size=512,
            in_channels=3,
            num_layers=2,
            attention_head_dim=4,
            num_key_value_attention_heads=2,
            out_channels=3,
            cross_attention_dim=4,
            time_proj_dim=8,
            global_states_input_dim=8,
            cross_attention_input_dim=4,
        ),
        scheduler=CosineDPMSolverMultistepScheduler(
            solver_order=2,
            prediction_type="v_prediction",
            sigma_data=1.0,
            sigma_schedule="exponential",
        ),
    )
    pipe.save_pretrained(path)
    return path
