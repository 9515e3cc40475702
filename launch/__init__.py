r"""Launchers for AltUp experiments on T5X (local and Cloud TPU / GPU).

  compose.py    Experiment -> gin files + flags of `python -m t5x.<mode>`;
                validation with errors that name the fix.
  local.py      python -m launch.local --size=tiny --variant=altup --altup_k=2 \
                    --run=pretrain --task=altup_offline_span_corruption \
                    --train_steps=100 --model_dir=/tmp/x [--gin.X=...] [--dry_run]
  xm_launch.py  python -m launch.xm_launch ... --tpu=v3-8 | --gpu=h100:8 [--dry_run]
  sweeps.py     python -m launch.sweeps --sweep=paper|offline_tiny --root=DIR \
                    --launcher=local|xm [--stage=pretrain|finetune] [--dry_run]
  report.py     python -m launch.report --sweep_dir=DIR [--sweep=...] \
                    [--output_dir=...]  (Markdown + CSV tables, PNG plot)
  offline.py    python -m launch.offline --model_dir=/tmp/altup_offline
                    (tiny baseline vs AltUp K=2, pretrain + finetune, on CPU)
"""
