"""Configuration, one typed tree per kind of run (docs/design.md).

    schema.py   the CanvasMAR run config (RunConfig and its sections)
    sample.py   its sampling section (SampleConfig), which every sampling call checks against
    presets.py  its named presets (tiny, small, bair, ucf, k600)
    vae.py      the causal VAE run config and its presets
    loading.py  presets / YAML files + `section.key=value` overrides -> configs; the JSON form
                and its format version

Everything is re-exported here: `from canvasmar.config import load_config, RunConfig`.
"""

from canvasmar.config.loading import (
    FORMAT_VERSION,
    config_from_json,
    format_version,
    from_dict,
    load_config,
    merged_config_dict,
    migrate,
    parse_overrides,
    save_config_json,
    to_dict,
    with_sample_overrides,
)
from canvasmar.config.presets import PAPER_PARAMS, PRESETS
from canvasmar.config.schema import (
    DataConfig,
    LossConfig,
    ModelConfig,
    RunConfig,
    SampleConfig,
    TokenizerConfig,
    TrainConfig,
)
from canvasmar.config.vae import (
    VAE_PRESETS,
    VAELossConfig,
    VAEModelConfig,
    VAERunConfig,
    load_vae_config,
    vae_config_from_json,
)

__all__ = [
    "FORMAT_VERSION", "PAPER_PARAMS", "PRESETS", "VAE_PRESETS", "DataConfig", "LossConfig",
    "ModelConfig", "RunConfig", "SampleConfig", "TokenizerConfig", "TrainConfig",
    "VAELossConfig", "VAEModelConfig", "VAERunConfig", "config_from_json", "format_version",
    "from_dict", "load_config", "load_vae_config", "merged_config_dict", "migrate",
    "parse_overrides", "save_config_json", "to_dict", "vae_config_from_json",
    "with_sample_overrides",
]
