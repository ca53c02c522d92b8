"""Load benchmarks: `bench/run` (see bench/README.md).

A scenario is a setup (data written through myaccount's own Python API before the server starts), a wrk Lua
script in `bench/lua/`, and the arguments that script is given. The runner starts granian on a fresh database per
scenario, warms up, measures with wrk, and prints and stores the numbers.
"""
