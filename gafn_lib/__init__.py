"""gafn_lib: Generative Augmented Flow Networks (Pan et al., ICLR 2023), reproducible and reusable.

Subpackages and modules (data flows top to bottom):

- :mod:`gafn_lib.envs` — the worlds: hypergrid (GridWorld) and the fragment-based molecule MDP.
- :mod:`gafn_lib.core.ensemble` — the GFlowNet engine: the policy network (P_F, P_B, log F),
  lockstep trajectory sampling and training of K runs at once (a solo run is K = 1);
  :mod:`gafn_lib.core.sampling` — the trajectory batch a sampler hands to the losses.
- :mod:`gafn_lib.core.objectives` — TB, DB, SubTB and FM losses; :mod:`gafn_lib.core.augment` — the
  edge / node / joint augmented flows shared by all of them.
- :mod:`gafn_lib.core.intrinsic` — intrinsic rewards (RND, count-based).
- :mod:`gafn_lib.core.metrics` — pure evaluation functions (L1, exact DP distribution, modes, ...).
"""

import gafn_lib.envs  # noqa: F401  (registers the library's environment names)
from gafn_lib.core.runtime import configure_threads

__all__ = ["SEHProxy", "configure_threads"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # the molecule proxy needs RDKit: import it only when asked for (``from gafn_lib import SEHProxy``)
    if name == "SEHProxy":
        from gafn_lib.envs.sehproxy import SEHProxy

        return SEHProxy
    raise AttributeError(f"module 'gafn_lib' has no attribute {name!r}")
