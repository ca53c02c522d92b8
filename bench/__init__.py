"""Load benchmarks: `bench/run` (see bench/README.md).

A scenario is a setup (data written through myaccount's own Python API before the server starts) and a load
generator: a wrk Lua script in `bench/lua/`, or a flow of `bench/loadgen.py` for what Lua cannot do (WebAuthn,
TOTP). The runner starts granian on a fresh database per scenario (SQLite with one node, PostgreSQL + Redis with
two), warms up, measures, and prints and stores the numbers.
"""
