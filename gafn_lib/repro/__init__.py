"""What the notebooks call: experiments and claims, profiles, plotting, output paths, and the
papermill pipeline that regenerates every figure (``python -m gafn_lib.repro.pipeline``)."""
