r"""Launchers for AltUp experiments on T5X (local and Cloud TPU / GPU).

  compose.py    Experiment -> gin files + flags of `python -m t5x.<mode>`;
                validation with errors that name the fix.
  families.py   the size gins' families (T5.1.1, T5.1.0, decoder-only lm_*) and
                what each runs
  local.py      python -m launch.local --size=tiny --variant=altup --altup_k=2 \
                    --run=pretrain --task=altup_offline_span_corruption \
                    --train_steps=100 --model_dir=/tmp/x [--gin.X=...] [--dry_run]
  xm_launch.py  python -m launch.xm_launch ... --tpu=v3-8 | --gpu=h100:8 [--dry_run]
  sweeps.py     python -m launch.sweeps --sweep=paper|offline_study --root=DIR \
                    --launcher=local|xm [--stage=pretrain|finetune] [--dry_run]
  grids.py      the sweeps as data (models, tasks, steps, seeds, schedules)
  jobs.py       a sweep's jobs: expand, select, run, skip finished, archive
  report.py     python -m launch.report --sweep_dir=DIR [--sweep=...] \
                    [--output_dir=...]  (Markdown + CSV tables, PNG plot)
  seeded.py     the report of a sweep with seeds (mean +- std, curves)
  tables.py     the one Markdown / CSV table writer
  offline.py    python -m launch.offline --model_dir=/tmp/altup_offline
                    (tiny baseline vs AltUp K=2, pretrain + finetune, on CPU)
  tpu_vm.py     python -m launch.tpu_vm ... --tpu=v4-32 (Cloud TPU VMs, gcloud)
  floor.py      python -m launch.floor: what a model that learned no language
                    scores on a span-corruption task
  coefficients.py  python -m launch.coefficients: learned p and g per layer
  experiment_flags.py, cli.py, runner.py   the launchers' shared flags, the
                    one start-up wrapper, the T5X subprocess with progress
"""
