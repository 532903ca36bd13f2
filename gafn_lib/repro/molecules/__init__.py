"""Notebook 06 (the paper's molecule experiment, §4), one job per module: ``configs`` (run configs),
``load`` (the run store), ``plots``, ``sampler`` (late-training hit rates and the summary table),
``claims``, ``decisive`` (issue 23's decisive run), ``cost`` (core-hours of a sweep) and ``probe``.
:mod:`gafn_lib.repro.mol_experiments` re-exports their names and is the command line."""
