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
    out_channels = image.pop("out_channels", 16)  # 48 for TI2V-5B
    return WanTransformer3DModel(
        **image,
        patch_size=(1, 2, 2),
        num_attention_heads=heads,
        attention_head_dim=head_dim,
        in_channels=in_channels,
        out_channels=out_channels,
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


def build_cogvideox_i2v(path: Path, *, seed: int = 0, learned: bool = False) -> Path:
    """CogVideoX image-to-video layout (1.0 frame rule): the transformer takes the noise and
    the image latents (2 x 4 channels); rotary positions, so any size on the 16 px grid.
    ``learned``: CogVideoX-5b-I2V's learned position embeddings too, which fix the size to
    64x32 (its sample size 8x4 latents) and the length to 9 frames."""
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
            sample_height=4 if learned else 8,
            sample_frames=9,
            patch_size=2,
            temporal_compression_ratio=4,
            # learned positions cover the prompt too: the pipeline's 226 tokens
            max_text_seq_length=226 if learned else 16,
            use_rotary_positional_embeddings=True,
            use_learned_positional_embeddings=learned,
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


def clip_tokenizer():
    """A byte-pair CLIP tokenizer from an in-memory vocabulary of single letters (no merges)."""
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in "abcdefghijklmnopqrstuvwxyz0123456789,.!?":
        vocab[char] = len(vocab)
        vocab[char + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def _clip_config():
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=96,
        projection_dim=32,
        max_position_embeddings=77,
    )


def _picture_vae():
    """An 8x VAE (four levels, like the real ones) with four channels a level."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(4, 4, 4, 4),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=1,
        sample_size=32,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )


def build_flux(path: Path, *, seed: int = 0) -> Path:
    """Flux layout: CLIP + T5 text encoders, one double and one single transformer block."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    pipe = FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=_picture_vae(),
        text_encoder=CLIPTextModel(_clip_config()),
        tokenizer=clip_tokenizer(),
        text_encoder_2=_t5(),
        tokenizer_2=tokenizer(),
        transformer=FluxTransformer2DModel(
            patch_size=1,
            in_channels=16,  # 4 latent channels packed 2x2
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=32,
            pooled_projection_dim=32,
            axes_dims_rope=[4, 4, 8],
        ),
    )
    pipe.save_pretrained(path)
    return path


def build_sd3(path: Path, *, seed: int = 0) -> Path:
    """Stable Diffusion 3 layout: two CLIP encoders with projections and a T5, an MMDiT."""
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import CLIPTextModelWithProjection

    torch.manual_seed(seed)
    pipe = StableDiffusion3Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=_picture_vae(),
        text_encoder=CLIPTextModelWithProjection(_clip_config()),
        tokenizer=clip_tokenizer(),
        text_encoder_2=CLIPTextModelWithProjection(_clip_config()),
        tokenizer_2=clip_tokenizer(),
        text_encoder_3=_t5(),
        tokenizer_3=tokenizer(),
        transformer=SD3Transformer2DModel(
            sample_size=32,
            patch_size=2,
            in_channels=4,
            num_layers=1,
            attention_head_dim=8,
            num_attention_heads=4,
            caption_projection_dim=32,
            joint_attention_dim=32,  # the T5's d_model (CLIP's 32 are padded up to it)
            pooled_projection_dim=64,  # both CLIP projections side by side
            out_channels=4,
        ),
    )
    pipe.save_pretrained(path)
    return path


def build_wan_lora(path: Path, weights: Path, *, seed: int = 0) -> Path:
    """A LoRA for the tiny Wan transformer, saved as diffusers saves one
    (``pytorch_lora_weights.safetensors``): rank 2 on the attention projections, random (not
    zero) so that it changes the frames."""
    from diffusers import WanPipeline, WanTransformer3DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    transformer = WanTransformer3DModel.from_pretrained(weights / "transformer")
    transformer.add_adapter(LoraConfig(r=2, lora_alpha=2, target_modules=["to_q", "to_k", "to_v"]))
    with torch.no_grad():
        for name, param in transformer.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn_like(param) * 0.5)
    WanPipeline.save_lora_weights(
        path, transformer_lora_layers=get_peft_model_state_dict(transformer)
    )
    return path / "pytorch_lora_weights.safetensors"


def build_wan_ti2v(path: Path, *, seed: int = 0) -> Path:
    """Wan 2.2 TI2V-5B layout: the 48-channel VAE with 2x2 patchify (16 px per latent),
    a 48-channel transformer and expand_timesteps (text and image in one pipeline)."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(
        base_dim=4,
        decoder_base_dim=4,
        z_dim=48,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        is_residual=True,
        in_channels=12,
        out_channels=12,
        patch_size=2,
        scale_factor_temporal=4,
        scale_factor_spatial=16,
        latents_mean=[0.0] * 48,
        latents_std=[1.0] * 48,
    )
    pipe = WanPipeline(
        tokenizer=tokenizer(),
        text_encoder=_t5(umt5=True),
        vae=vae,
        scheduler=UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0
        ),
        transformer=_wan_transformer(in_channels=48, out_channels=48),
        expand_timesteps=True,
    )
    pipe.save_pretrained(path)
    return path


def _cog_vae():
    from diffusers import AutoencoderKLCogVideoX

    return AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )


def build_cogvideox(path: Path, *, seed: int = 0, v1_5: bool = False) -> Path:
    """CogVideoX text-to-video: 1.0 (8k+1 frames at 8 fps) or ``v1_5`` (a temporal patch of
    2: 16k+1 frames at 16 fps)."""
    from diffusers import CogVideoXDPMScheduler, CogVideoXPipeline, CogVideoXTransformer3DModel

    torch.manual_seed(seed)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=4,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=8,
        sample_height=8,
        sample_frames=9,
        patch_size=2,
        patch_size_t=2 if v1_5 else None,
        patch_bias=not v1_5,
        temporal_compression_ratio=4,
        max_text_seq_length=16,
        use_rotary_positional_embeddings=True,
    )
    pipe = CogVideoXPipeline(
        tokenizer=tokenizer(),
        text_encoder=_t5(),
        vae=_cog_vae(),
        transformer=transformer,
        scheduler=CogVideoXDPMScheduler(),
    )
    pipe.save_pretrained(path)
    return path


def _word_tokenizer(max_length: int):
    """A WordLevel fast tokenizer from an in-memory vocabulary (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}
    for word in WORDS + list("abcdefghijklmnopqrstuvwxyz"):
        vocab.setdefault(word, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        model_max_length=max_length,
    )


def build_hunyuan(path: Path, *, seed: int = 0) -> Path:
    """HunyuanVideo layout: a tiny Llama text encoder and a tiny CLIP text encoder (pooled
    projection), the dual-stream / single-stream transformer with guidance embedding, and its
    VAE (4 latent channels here)."""
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoPipeline,
        HunyuanVideoTransformer3DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    torch.manual_seed(seed)
    llama = LlamaModel(
        LlamaConfig(
            vocab_size=64,
            hidden_size=16,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=512,
        )
    )
    clip = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=64,
            hidden_size=8,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            projection_dim=8,
        )
    )
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=10,
        num_layers=1,
        num_single_layers=1,
        num_refiner_layers=1,
        patch_size=2,
        patch_size_t=1,
        guidance_embeds=True,
        text_embed_dim=16,
        pooled_projection_dim=8,
        rope_axes_dim=(2, 4, 4),
    )
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        norm_num_groups=4,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        mid_block_add_attention=True,
    )
    pipe = HunyuanVideoPipeline(
        text_encoder=llama,
        tokenizer=_word_tokenizer(512),
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=clip,
        tokenizer_2=_word_tokenizer(77),
    )
    pipe.save_pretrained(path)
    return path
