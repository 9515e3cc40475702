"""What the cost benchmark measures: models, the run's settings, their gins.

A model is named 'baseline', 'recycled_k<K>', 'altup_k<K>' or 'dense_<W>d'
(`parse_model`); `parse_gin` makes its gin config the active one (the size and
variant gins of launch.compose, T5's shapes on a pass-through vocabulary) and
returns its dimensions. Nothing here imports jax or t5x.
"""

import dataclasses
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from launch import compose
from launch import families

# Every size gin of launch.compose but tiny_2d (the dense_2d model widens the
# size's own dimensions instead): T5.1.1, T5.1.0 and decoder-only
# (launch/families.py).
SIZES = tuple(s for s in compose.SIZE_LAYERS if s != 'tiny_2d')
# The encoder-decoder ones (what benchmarks.mesh_cost and --model_only build).
ENCODER_DECODER_SIZES = tuple(s for s in SIZES
                              if not families.is_decoder_only(s))
# CPU sizes: the benchmark's default shapes and vocabulary are small for them.
TINY_SIZES = ('tiny', 't5_1_0_tiny', 'lm_tiny')
DEFAULT_MODELS = ('baseline', 'recycled_k2', 'altup_k2', 'altup_k4',
                  'dense_2d')
# Sizes whose shapes are T5's own (vocabulary 32128); TINY_SIZES use 128.
REAL_VOCAB = 32128
TINY_VOCAB = 128
# The gin macros a model's dimensions are read from.
DIM_MACROS = ('EMBED_DIM', 'NUM_HEADS', 'HEAD_DIM', 'MLP_DIM',
              'NUM_ENCODER_LAYERS', 'NUM_DECODER_LAYERS', 'NUM_EMBEDDINGS',
              'ACTIVATION_DTYPE')


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """One benchmarked model: a variant gin, ALTUP_K and a width multiplier."""
  name: str
  variant: str  # baseline | recycled | altup
  altup_k: int = 1
  widen: int = 1

  @property
  def label(self) -> str:
    if self.variant == 'recycled':
      return f'Recycled-AltUp K={self.altup_k}'
    if self.variant == 'altup':
      return f'AltUp K={self.altup_k}'
    return 'baseline' if self.widen == 1 else f'dense-{self.widen}d'


def parse_model(name: str) -> ModelSpec:
  """'baseline' | 'recycled_k2' | 'altup_k4' | 'dense_2d' -> ModelSpec."""
  if name == 'baseline':
    return ModelSpec(name, 'baseline')
  m = re.fullmatch(r'(recycled|altup)_k(\d+)', name)
  if m:
    return ModelSpec(name, m.group(1), int(m.group(2)))
  m = re.fullmatch(r'dense_(\d+)d', name)
  if m:
    return ModelSpec(name, 'baseline', 1, int(m.group(1)))
  raise ValueError(f'Unknown model {name!r}; expected baseline, recycled_k<K>, '
                   'altup_k<K> or dense_<W>d.')


@dataclasses.dataclass
class BenchConfig:
  """One benchmark run: the shapes, the models and how long to time them."""
  size: str = 'small'
  batch: int = 8
  inputs_length: int = 128
  targets_length: int = 32
  models: Sequence[str] = DEFAULT_MODELS
  warmup: int = 1
  repeats: int = 3
  decode_repeats: int = 1
  num_embeddings: int = REAL_VOCAB
  num_layers: Optional[int] = None
  scan: bool = False
  gather_embedding: bool = False
  gin_bindings: Sequence[str] = ()
  output_dir: str = '/tmp/altup_cost'
  seed: int = 0


def gin_files(cfg: BenchConfig, spec: ModelSpec) -> List[str]:
  """The model gins of `spec` (launch.compose's): size, variant, options.

  No vocabulary gin: `gin_bindings` binds a pass-through vocabulary.
  """
  options = ((('scan',) if cfg.scan else ())
             + (('gather_embedding',) if cfg.gather_embedding else ()))
  return compose.model_gin_files(cfg.size, spec.variant, options)


def gin_bindings(cfg: BenchConfig, spec: ModelSpec,
                 base_dims: Optional[Dict[str, Any]] = None) -> List[str]:
  """Bindings of `spec`: vocabulary, K, layers, dense widening, --gin_bindings.

  `base_dims`: the baseline's dimensions (`parse_gin`), which a dense_<W>d
  model multiplies.
  """
  v = cfg.num_embeddings
  bindings = [
      'from __gin__ import dynamic_registration',
      'import seqio',
      f'NUM_EMBEDDINGS = {v}',
      'VOCABULARY = @seqio.PassThroughVocabulary()',
      f'seqio.PassThroughVocabulary.size = {v}',
  ]
  if spec.variant != 'baseline':
    bindings.append(f'ALTUP_K = {spec.altup_k}')
  if cfg.num_layers:
    bindings += [f'{m} = {cfg.num_layers}' for m in layer_macros(cfg.size)]
  if spec.widen != 1:
    if base_dims is None:
      raise ValueError('dense widening needs the base dimensions')
    w = spec.widen
    bindings += [f'EMBED_DIM = {w * base_dims["EMBED_DIM"]}',
                 f'NUM_HEADS = {w * base_dims["NUM_HEADS"]}',
                 f'MLP_DIM = {w * base_dims["MLP_DIM"]}']
  return bindings + list(cfg.gin_bindings)


def layer_macros(size: str) -> Tuple[str, ...]:
  """The layer-count macros of `size`'s stacks: a decoder-only model (one
  flaxformer Decoder, gin/models/decoder_only.gin) has NUM_DECODER_LAYERS
  only; the NUM_ENCODER_LAYERS its T5.1.1 gin also binds builds nothing."""
  if families.is_decoder_only(size):
    return ('NUM_DECODER_LAYERS',)
  return ('NUM_ENCODER_LAYERS', 'NUM_DECODER_LAYERS')


def parse_gin(cfg: BenchConfig, spec: ModelSpec,
              base_dims: Optional[Dict[str, Any]] = None,
              skip_unknown: Union[bool, Sequence[str]] = False
              ) -> Dict[str, Any]:
  """Parses the gins of `spec` (replacing any config); returns its dimensions.

  `skip_unknown`: gin's, for imports and bindings that cannot resolve (the
  model-only mode, benchmarks.model_only, parses without t5x and seqio).

  Returns:
    DIM_MACROS' values (a decoder-only size: NUM_ENCODER_LAYERS 0, as its
    model has no encoder), ALTUP_K, whether the embedding is one-hot, the
    MLP's number of inputs (2 for gated activations), the decoder output
    ('concat': K*d norm and logits, 'sum': d), whether the model is
    decoder-only and the gin files.
  """
  import gin  # pylint: disable=g-import-not-at-top
  gin.clear_config()
  gin.add_config_file_search_path(compose.REPO)
  files = gin_files(cfg, spec)
  gin.parse_config_files_and_bindings(
      files, gin_bindings(cfg, spec, base_dims), finalize_config=True,
      skip_unknown=skip_unknown)
  dims = {m: gin.query_parameter(f'%{m}') for m in DIM_MACROS}
  decoder_only = families.is_decoder_only(cfg.size)
  if decoder_only:
    dims['NUM_ENCODER_LAYERS'] = 0
  dims['ALTUP_K'] = spec.altup_k
  dims['one_hot_embed'] = bool(_query(gin, 'embedding.Embed.one_hot', False))
  dims['mlp_inputs'] = len(_query(gin, 'dense.MlpBlock.activations', ('relu',)))
  dims['decoder_output'] = (_query(gin, '%ALTUP_DECODER_OUTPUT', 'concat')
                            if spec.variant == 'altup' else 'sum')
  dims['decoder_only'] = decoder_only
  dims['gin_files'] = files
  return dims


def _query(gin, name, default):
  try:
    return gin.query_parameter(name)
  except (ValueError, KeyError):
    return default
