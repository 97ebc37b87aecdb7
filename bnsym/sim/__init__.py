"""Monte Carlo simulation of batch normalization in torch (float64).

``bnsym.sim.laws`` draws standardized samples of the laws of ``bnsym.laws``;
``bnsym.sim.batchnorm`` runs the BN processes themselves (batch statistics, the loss gap
between batch-normalised and population-normalised pre-activations). Nothing here evaluates
a theoretical formula: these modules only run the processes the theory describes.
"""
