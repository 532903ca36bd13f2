"""GFlowNet objectives, one equation each. Augmentation is applied beforehand by
:func:`gafn_lib.core.augment.augment`, the same way for every objective."""

from gafn_lib.core.objectives.db import db_loss
from gafn_lib.core.objectives.fm import fm_loss
from gafn_lib.core.objectives.subtb import subtb_loss
from gafn_lib.core.objectives.tb import tb_loss, tb_residuals

OBJECTIVES = ("tb", "db", "subtb", "fm")

__all__ = ["OBJECTIVES", "db_loss", "fm_loss", "subtb_loss", "tb_loss", "tb_residuals"]
