"""Entry point for `dg dev` (`cl dev`) and `dagster dev -w workspace.yaml`: the loop's definitions,
bound to the state folder ($CL_HOME)."""

import dagster as dg

from cl_assets.defs import build_defs
from cl_assets.settings import StatePaths, quiet_third_party_env


@dg.definitions
def defs() -> dg.Definitions:
    quiet_third_party_env()
    return build_defs(StatePaths.resolve())
