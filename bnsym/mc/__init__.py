"""The Monte Carlo half of bnsym: streamed estimation on torch and statistical verdicts.

``stats`` (quantiles, tests, resolution) needs only mpmath; ``stream``, ``device`` and
``engine`` use torch.
"""
