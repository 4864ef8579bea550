"""The engine: running kernels over seeds and grids.

``batch`` (vmap, memory-bounded chunks, sharding over devices, streaming summaries),
``sweep`` (resumable grids of compiled points) and ``registry`` (kernels by name, for
``proofs_checks.sweep --kernel``). The engine imports the core only; the registry names
family kernels as ``"module:attribute"`` strings, imported on first use.
"""
