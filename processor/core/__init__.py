"""Pure core: no I/O, no clock, no environment.

Models and validation of the lineage profile, the mix rule, content hashing and
key identities, the graph fold and the canonical snapshot. Everything here is a
function of its arguments, so it is tested without services and shared by the
worker, the CLI and the benchmarks.
"""
