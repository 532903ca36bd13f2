"""The GridWorld (hypergrid) domain of the paper: run configs that combine the grid's fields with
the algorithm's (:mod:`gafn_lib.grid.config`). The environment itself is
:class:`gafn_lib.envs.Hypergrid`; training uses the core trainer."""
