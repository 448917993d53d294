"""The ``frontdesk`` command: serve, seed, conformance, ...

The one package that may import every other: it picks the sandbox (``simulators``)
when ``serve`` has no configuration, and the conformance kit for ``conformance``.
"""
