"""The experiment flags shared by launch.local, launch.xm_launch and
launch.tpu_vm (which run with `cli.run(..., gin_overrides=True)`)."""

from typing import Sequence

from absl import flags

from launch import compose

FLAGS = flags.FLAGS


def define(size: str, task: str) -> None:
  """Defines the experiment flags with these defaults."""
  flags.DEFINE_enum('size', size, tuple(compose.SIZE_LAYERS), 'Model size.')
  flags.DEFINE_enum('variant', 'altup', compose.VARIANTS, 'AltUp variant.')
  flags.DEFINE_integer('altup_k', None, 'K (default: the variant gin\'s '
                       'ALTUP_K; for sequence, the stride).')
  flags.DEFINE_enum('run', 'pretrain', tuple(compose.RUNS), 'T5X run.')
  flags.DEFINE_string('task', task, 'Registered altup_* task or mixture.')
  flags.DEFINE_string('feature_lengths', None,
                      'TASK_FEATURE_LENGTHS, e.g. inputs=512,targets=114 '
                      '(default: the task\'s, see tasks.FEATURE_LENGTHS).')
  flags.DEFINE_integer('train_steps', None, 'TRAIN_STEPS (train runs).')
  flags.DEFINE_integer('batch_size', None, 'BATCH_SIZE (default: run gin).')
  flags.DEFINE_string('checkpoint', None,
                      'Checkpoint dir to finetune from / evaluate / infer.')
  flags.DEFINE_string('model_dir', None, 'MODEL_DIR or output dir.')
  flags.DEFINE_bool('scan', False, 'Scanned stacks (gin/options/scan.gin).')
  flags.DEFINE_list('options', [], 'gin/options/<name>.gin files to add, '
                    f'from: {", ".join(compose.OPTIONS)}.')
  flags.DEFINE_enum('embedding', 'auto', compose.EMBEDDINGS,
                    'Token embedding: one_hot (T5.1.1\'s matmul), gather (the '
                    'same numbers, cheaper for full AltUp\'s K*d table), or '
                    'auto: gather on CPU/GPU, one_hot on TPU.')
  flags.DEFINE_enum('vocabulary', None, tuple(compose.VOCABULARY_GINS),
                    'Vocabulary of model and tasks (default: the task\'s: '
                    '\'bytes\' for byte-level tasks, \'offline\' for the '
                    'other altup_offline_* tasks, else T5\'s).')
  flags.DEFINE_integer('seed', 0, 'RANDOM_SEED and the train data seed of '
                       'train runs (recorded in <model_dir>/config.gin).')
  flags.DEFINE_integer('num_partitions', None, 'Model-parallel partitions.')
  flags.DEFINE_bool('dry_run', False, 'Print what would run, then exit.')


def registered_tasks() -> Sequence[str]:
  """The altup_* task and mixture names (no TensorFlow import: tasks.NAMES)."""
  import tasks  # pylint: disable=g-import-not-at-top
  return tasks.NAMES


def experiment(overrides, platform: str) -> compose.Experiment:
  """The Experiment the flags (and --gin.X overrides) describe, for a run on
  `platform` ('cpu', 'gpu' or 'tpu'; it picks --embedding=auto's form)."""
  if not FLAGS.model_dir:
    raise ValueError('--model_dir is required.')
  if FLAGS.embedding == 'one_hot' and 'gather_embedding' in FLAGS.options:
    raise ValueError('--options=gather_embedding contradicts '
                     '--embedding=one_hot; give one of them.')
  options = tuple(FLAGS.options) + tuple(
      o for o in compose.embedding_options(FLAGS.embedding, platform)
      if o not in FLAGS.options)
  k = (compose.default_altup_k(FLAGS.variant) if FLAGS.altup_k is None
       else FLAGS.altup_k)  # 0 is refused by compose.validate, not replaced
  return compose.Experiment(
      size=FLAGS.size, variant=FLAGS.variant, altup_k=k, run=FLAGS.run,
      task=FLAGS.task, model_dir=FLAGS.model_dir,
      feature_lengths=(compose.parse_feature_lengths(FLAGS.feature_lengths)
                       if FLAGS.feature_lengths
                       else compose.default_feature_lengths(FLAGS.task)),
      train_steps=FLAGS.train_steps, batch_size=FLAGS.batch_size,
      checkpoint=FLAGS.checkpoint, scan=FLAGS.scan,
      options=options, vocabulary=FLAGS.vocabulary,
      seed=FLAGS.seed,
      num_partitions=FLAGS.num_partitions, gin_overrides=overrides)

