"""Luo, Wang, Shao, Peng. Towards Understanding Regularization in Batch Normalization. ICLR 2019."""
