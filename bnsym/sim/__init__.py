"""Monte Carlo simulation of batch normalization in torch (float64).

``bnsym.sim.laws`` draws standardized samples of the laws of ``bnsym.laws``;
``bnsym.sim.batchnorm`` runs the BN processes themselves (batch statistics, the loss gap
between batch-normalised and population-normalised pre-activations);
``bnsym.sim.teacher_student`` trains a student on a teacher by online SGD (BN, WN, plain)
batched over learning rates and runs, and samples the Gaussian pairs of its integrals;
``bnsym.sim.regression`` samples random least-squares problems and trains a linear neuron
with a real BN layer (or population normalization plus gamma decay) by mini-batch SGD. Nothing here evaluates
a theoretical formula: these modules only run the processes the theory describes.
"""
