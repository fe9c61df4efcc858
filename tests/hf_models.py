"""Random-weight model folders in Hugging Face format, built with ``save_pretrained`` (nothing downloaded).

Small configurations of the real architectures (fast on a CPU); the layout of each
folder is what ``hf download`` writes for the published models: ``config.json``,
``model.safetensors``, ``preprocessor_config.json`` and, for CLAP, the tokenizer files.
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf
import torch

from tests.test_clap_equivalence import save_test_tokenizer, tone


def write_clips(folder: Path, clips: dict[str, tuple[float, int]], texts: list[str] | None = None) -> Path:
    """Write ``{id: (seconds, rate)}`` as float wav files and a manifest listing them; returns the manifest."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (clip, (seconds, rate)) in enumerate(clips.items()):
        sf.write(folder / f"{clip}.wav", tone(seconds, rate, seed=i), rate, subtype="FLOAT")
        rows.append({"path": f"{clip}.wav", "text": (texts or ["a tone"])[i % len(texts or ["a tone"])], "overall": 1.0 + i})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


def clap_folder(folder: Path, fusion: bool = False, seed: int = 0) -> Path:
    """A small ``ClapModel`` (HTSAT with one block per stage, one-layer RoBERTa) with its extractor and tokenizer."""
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    save_test_tokenizer(folder)
    audio = ClapAudioConfig(
        depths=[1, 1, 1, 1], patch_embeds_hidden_size=16, hidden_size=128, num_attention_heads=[1, 2, 4, 8],
        enable_fusion=fusion, fusion_num_hidden_layers=1, projection_hidden_size=32,
    )
    text = ClapTextConfig(vocab_size=261, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, projection_hidden_size=32)
    config = ClapConfig(audio_config=audio.to_dict(), text_config=text.to_dict(), projection_dim=24)
    torch.manual_seed(seed)
    ClapModel(config).eval().save_pretrained(folder)
    ClapFeatureExtractor().save_pretrained(folder)  # truncation "fusion" by default, as published
    return folder


def whisper_folder(folder: Path, seed: int = 0) -> Path:
    """A small ``WhisperModel`` (2 encoder layers, 80 mel bins, the real 30 s input) with its extractor."""
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    config = WhisperConfig(
        d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
        encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=80, vocab_size=100, pad_token_id=0, bos_token_id=1,
        eos_token_id=2, decoder_start_token_id=1, max_source_positions=1500, max_target_positions=32,
    )
    torch.manual_seed(seed)
    WhisperModel(config).eval().save_pretrained(folder)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    return folder


def wavlm_folder(folder: Path, seed: int = 0) -> Path:
    """A small ``WavLMModel`` (the real 320x conv front end, narrow; 2 transformer layers) with a normalising extractor."""
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    config = WavLMConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16,) * 7,
        conv_stride=(5, 2, 2, 2, 2, 2, 2), conv_kernel=(10, 3, 3, 3, 3, 2, 2), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer", do_stable_layer_norm=True,
    )
    torch.manual_seed(seed)
    WavLMModel(config).eval().save_pretrained(folder)
    Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=True).save_pretrained(folder)
    return folder


def ast_folder(folder: Path, seed: int = 0) -> Path:
    """A small ``ASTModel`` (2 layers of 32) with the published extractor (1024 frames of 128 bins)."""
    from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

    torch.manual_seed(seed)
    ASTModel(ASTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)).eval().save_pretrained(folder)
    ASTFeatureExtractor().save_pretrained(folder)
    return folder


def bert_folder(folder: Path) -> Path:
    """A small text-only model (BERT): not an audio encoder."""
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)).save_pretrained(folder)
    return folder
