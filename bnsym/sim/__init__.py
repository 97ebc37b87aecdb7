"""Monte Carlo simulation of batch normalization in torch (float64).

``bnsym.sim.laws`` draws standardized samples of the laws of ``bnsym.laws``;
``bnsym.sim.batchnorm`` runs the BN processes themselves (batch statistics, the loss gap
between batch-normalised and population-normalised pre-activations);
``bnsym.sim.teacher_student`` trains a student on a teacher by online SGD (BN, WN, plain)
batched over learning rates and runs, and samples the Gaussian pairs of its integrals;
``bnsym.sim.regression`` samples random least-squares problems and trains a linear neuron
with a real BN layer (or population normalization plus gamma decay) by mini-batch SGD;
``bnsym.sim.quadratic``, ``bnsym.sim.bngd`` and ``bnsym.sim.gdnp`` run BNGD, GDNP and GD on random
least-squares problems; ``bnsym.sim.bnnet`` builds MLPs and conv nets with BN in train mode (derivatives,
SGD, momentum, Adam, weight decay and rescaling); ``bnsym.sim.minibatch`` draws mini-batches of per-example
gradients; ``bnsym.sim.matrices`` multiplies Gaussian matrices; ``bnsym.sim.resnet`` runs a residual MLP
with and without BN at initialization and for a step over a grid of learning rates. Nothing here evaluates
a theoretical formula: these modules only run the processes the theory describes.
"""
