"""The AltUp paper's tasks as SeqIO registrations, in T5's recipe.

Pretraining: `altup_c4_span_corruption` (C4 en, T5.1.1 span corruption,
noise density 0.15, mean span 3; train with inputs 512 / targets 114); for
the decoder-only sizes, `altup_c4_lm` (causal LM, t5's full_lm; targets 512)
and `altup_c4_prefix_lm` (t5's prefix_lm; inputs 512 / targets 512).
Finetuning: GLUE (`altup_glue_<cfg>` + `altup_glue_proportional`), SuperGLUE
(`altup_super_glue_<cfg>`, WSC/DPR "simple" + `altup_super_glue_proportional`),
SQuAD v1.1 (`altup_squad`, EM/F1) and closed-book TriviaQA
(`altup_trivia_qa_closed_book`, EM/F1).

Preprocessors, postprocessors and metrics are the `t5` library's (t5==0.9.4,
installed with `--no-deps`, see tasks/README_SECTION.md), exactly as in its
t5/data/tasks.py and glue_utils.py. What differs from t5's own registrations:

* the vocabulary: every task reads `tasks.vocab.get_vocabulary()`, by default
  the model gins' `cc_all.32000.100extra` (extra_ids=0), where t5's tasks use
  `cc_all.32000` with extra_ids=100, which `t5x.train` rejects;
* TriviaQA is closed-book (TFDS `trivia_qa/unfiltered.nocontext`), with the
  answer aliases kept for `postprocessors.qa` + `metrics.trivia_qa`
  (t5's `trivia_qa_v010` has neither postprocessor nor metric);
* names carry the `altup_` prefix and no version suffix.

Importing this module needs no network and no TFDS data: sources are only
opened by `get_dataset`.
"""

import functools

import seqio
from t5.data import glue_utils
from t5.data import postprocessors
from t5.data import preprocessors
from t5.evaluation import metrics
import tensorflow as tf
import tensorflow_datasets as tfds

import tasks
from tasks import common

NOISE_DENSITY = 0.15
MEAN_NOISE_SPAN_LENGTH = 3.0

C4_TFDS_NAME = 'c4/en:2.2.0'
GLUE_TFDS_VERSION = '1.0.0'
SUPER_GLUE_TFDS_VERSION = '1.0.2'
SQUAD_TFDS_NAME = 'squad/v1.1:3.0.0'
DPR_TFDS_NAME = 'definite_pronoun_resolution:1.1.0'
TRIVIA_QA_TFDS_NAME = 'trivia_qa/unfiltered.nocontext:1.1.0'
# Open-domain convention (seqio's README, Roberts et al. 2020): TFDS has no
# test answers, so a 10% slice of train is the dev set and TFDS validation is
# the test set that papers report.
TRIVIA_QA_SPLITS = {'train': 'train[:90%]', 'validation': 'train[90%:]',
                    'test': 'validation'}

GLUE_CONFIGS = tfds.text.glue.Glue.builder_configs
SUPER_GLUE_CONFIGS = tfds.text.super_glue.SuperGlue.builder_configs

_TAIL = (seqio.preprocessors.tokenize, seqio.CacheDatasetPlaceholder(),
         seqio.preprocessors.append_eos_after_trim)


def glue_task_name(config_name):
  return f'altup_glue_{config_name}'


def super_glue_task_name(config_name):
  return f'altup_super_glue_{config_name}'


# ================================== C4 ========================================
C4_SPAN_CORRUPTION = 'altup_c4_span_corruption'
# T5.1.1's pretraining lengths (t5x's pretrain gins).
C4_FEATURE_LENGTHS = tasks.FEATURE_LENGTHS[C4_SPAN_CORRUPTION]


def span_corruption_preprocessors(noise_density=NOISE_DENSITY,
                                  mean_noise_span_length=MEAN_NOISE_SPAN_LENGTH):
  """t5's c4_v220_span_corruption chain, for a source with a 'text' field."""
  return [
      functools.partial(preprocessors.rekey,
                        key_map={'inputs': None, 'targets': 'text'}),
      seqio.preprocessors.tokenize,
      seqio.CacheDatasetPlaceholder(),
      functools.partial(preprocessors.span_corruption,
                        noise_density=noise_density,
                        mean_noise_span_length=mean_noise_span_length),
      seqio.preprocessors.append_eos_after_trim,
  ]


common.add_task(
    C4_SPAN_CORRUPTION,
    source=seqio.TfdsDataSource(tfds_name=C4_TFDS_NAME),
    preprocessors=span_corruption_preprocessors())

# Language modeling for the decoder-only sizes (gin/models/lm_*.gin).
C4_LM = 'altup_c4_lm'
C4_PREFIX_LM = 'altup_c4_prefix_lm'


def lm_preprocessors(prefix_lm=False):
  """t5's c4_v220_full_lm / c4_v220_prefix_lm chain, for a 'text' source.

  Causal LM (`prefix_lm=False`): documents concatenated with EOS between them
  and split into 'targets' of the targets length (train with
  {'targets': L}). Prefix LM: chunks of the inputs length, each split at a
  random point into 'inputs' and 'targets' (train with {'inputs': L,
  'targets': L}). T5X's DecoderOnlyModel converts either with seqio's
  DecoderFeatureConverter, which picks LM or PrefixLM from the lengths.
  """
  head = [
      functools.partial(preprocessors.rekey,
                        key_map={'inputs': None, 'targets': 'text'}),
      seqio.preprocessors.tokenize,
      seqio.CacheDatasetPlaceholder(),
  ]
  if prefix_lm:
    return head + [preprocessors.prefix_lm,
                   seqio.preprocessors.append_eos_after_trim]
  return head + [preprocessors.full_lm]


common.add_task(
    C4_LM,
    source=seqio.TfdsDataSource(tfds_name=C4_TFDS_NAME),
    preprocessors=lm_preprocessors())

common.add_task(
    C4_PREFIX_LM,
    source=seqio.TfdsDataSource(tfds_name=C4_TFDS_NAME),
    preprocessors=lm_preprocessors(prefix_lm=True))

# ================================= GLUE =======================================
for _b in GLUE_CONFIGS.values():
  common.add_task(
      glue_task_name(_b.name),
      source=seqio.TfdsDataSource(
          tfds_name=f'glue/{_b.name}:{GLUE_TFDS_VERSION}',
          splits=['test'] if _b.name == 'ax' else None),
      preprocessors=[glue_utils.get_glue_text_preprocessor(_b), *_TAIL],
      metric_fns=glue_utils.get_glue_metric(_b.name),
      postprocess_fn=glue_utils.get_glue_postprocess_fn(_b))

# Proportional to training-set size; WNLI is left out as in T5 (it is
# learned through WSC/DPR in SuperGLUE), evaluation-only tasks have weight 0.
GLUE_WEIGHTS = {
    glue_task_name(name[len('glue_'):-len('_v002')]): weight
    for name, weight in glue_utils.get_glue_weight_mapping().items()}
GLUE_MIXTURE = 'altup_glue_proportional'
common.add_mixture(GLUE_MIXTURE, list(GLUE_WEIGHTS.items()))

# =============================== SuperGLUE ====================================
for _b in SUPER_GLUE_CONFIGS.values():
  if 'wsc' in _b.name:  # T5 uses the "simple" WSC below instead.
    continue
  _pre = [glue_utils.get_glue_text_preprocessor(_b), *_TAIL]
  if _b.name == 'axb':
    _pre.insert(0, functools.partial(
        preprocessors.rekey,
        key_map={'premise': 'sentence1', 'hypothesis': 'sentence2',
                 'label': 'label', 'idx': 'idx'}))
  common.add_task(
      super_glue_task_name(_b.name),
      source=seqio.TfdsDataSource(
          tfds_name=f'super_glue/{_b.name}:{SUPER_GLUE_TFDS_VERSION}',
          splits=['test'] if _b.name in ('axb', 'axg') else None),
      preprocessors=_pre,
      metric_fns=glue_utils.get_super_glue_metric(_b.name),
      postprocess_fn=glue_utils.get_glue_postprocess_fn(_b))

# WSC as a "simple" referent-generation task (T5 paper, Sec. 2.7), plus DPR.
DPR_SIMPLE = 'altup_dpr_simple'
WSC_SIMPLE_TRAIN = 'altup_super_glue_wsc_simple_train'
WSC_SIMPLE_EVAL = 'altup_super_glue_wsc_simple_eval'
common.add_task(
    DPR_SIMPLE,
    source=seqio.TfdsDataSource(tfds_name=DPR_TFDS_NAME),
    preprocessors=[preprocessors.definite_pronoun_resolution_simple, *_TAIL],
    metric_fns=[metrics.accuracy])
common.add_task(
    WSC_SIMPLE_TRAIN,
    source=seqio.TfdsDataSource(
        tfds_name=f'super_glue/wsc.fixed:{SUPER_GLUE_TFDS_VERSION}',
        splits=['train']),
    preprocessors=[functools.partial(preprocessors.wsc_simple,
                                     correct_referent_only=True), *_TAIL])
common.add_task(
    WSC_SIMPLE_EVAL,
    source=seqio.TfdsDataSource(
        tfds_name=f'super_glue/wsc.fixed:{SUPER_GLUE_TFDS_VERSION}',
        splits=['validation', 'test']),
    preprocessors=[functools.partial(preprocessors.wsc_simple,
                                     correct_referent_only=False), *_TAIL],
    postprocess_fn=postprocessors.wsc_simple,
    metric_fns=[metrics.accuracy])

_T5_SUPER_GLUE_NAMES = {
    'dpr_v001_simple': DPR_SIMPLE,
    'super_glue_wsc_v102_simple_train': WSC_SIMPLE_TRAIN,
    'super_glue_wsc_v102_simple_eval': WSC_SIMPLE_EVAL,
}
SUPER_GLUE_WEIGHTS = {
    _T5_SUPER_GLUE_NAMES.get(
        name, super_glue_task_name(name[len('super_glue_'):-len('_v102')])):
        weight
    for name, weight in glue_utils.get_super_glue_weight_mapping().items()}
SUPER_GLUE_MIXTURE = 'altup_super_glue_proportional'
common.add_mixture(SUPER_GLUE_MIXTURE, list(SUPER_GLUE_WEIGHTS.items()))

# ================================ SQuAD =======================================
# t5's squad_v010_allanswers: target = first answer, metric = max over all.
SQUAD = 'altup_squad'
common.add_task(
    SQUAD,
    source=seqio.TfdsDataSource(tfds_name=SQUAD_TFDS_NAME),
    preprocessors=[preprocessors.squad, *_TAIL],
    postprocess_fn=postprocessors.qa,
    metric_fns=[metrics.squad])

# ======================== TriviaQA (closed book) ==============================
TRIVIA_QA = 'altup_trivia_qa_closed_book'


@seqio.map_over_dataset
def trivia_qa_closed_book(x, prefix='trivia_qa question:'):
  """TFDS trivia_qa example -> closed-book text-to-text example.

  {'inputs': 'trivia_qa question: <question>', 'targets': <answer value>,
   'answers': [<value>, <aliases>...]}. The answers are kept for
  `postprocessors.qa`, so `metrics.trivia_qa` scores the best alias.

  Args:
    x: a TFDS trivia_qa example.
    prefix: task prefix of the inputs.

  Returns:
    The text-to-text example.
  """
  # pylint: disable=protected-access
  question = preprocessors._pad_punctuation(x['question'])
  inputs = preprocessors._string_join([prefix, question])
  # pylint: enable=protected-access
  return {
      'inputs': tf.strings.strip(inputs),
      'targets': x['answer']['value'],
      'answers': tf.concat([[x['answer']['value']], x['answer']['aliases']],
                           axis=0),
  }


common.add_task(
    TRIVIA_QA,
    source=seqio.TfdsDataSource(tfds_name=TRIVIA_QA_TFDS_NAME,
                                splits=TRIVIA_QA_SPLITS),
    preprocessors=[trivia_qa_closed_book, *_TAIL],
    postprocess_fn=postprocessors.qa,
    metric_fns=[metrics.trivia_qa])

TASKS = sorted(
    [C4_SPAN_CORRUPTION, C4_LM, C4_PREFIX_LM, SQUAD, TRIVIA_QA, DPR_SIMPLE,
     WSC_SIMPLE_TRAIN, WSC_SIMPLE_EVAL] +
    [glue_task_name(n) for n in GLUE_CONFIGS] +
    [super_glue_task_name(n) for n in SUPER_GLUE_CONFIGS if 'wsc' not in n])
MIXTURES = [GLUE_MIXTURE, SUPER_GLUE_MIXTURE]
