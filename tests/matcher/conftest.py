from tests.integrations.connectwise.sim import cw_sim, cw_sim_factory  # noqa: F401  (fixtures)
