"""Parameters shared by the Luo et al. (ICLR 2019) theorems, each declared once.

Conventions (THEOREMS.md): batch size M; the batch std sigma_B is normalised by 1/M;
rho is the excess kurtosis and kappa the skewness of the pre-activation h.
"""

from bnsym import Param

M = Param("M", lo=2, integer=True, sample_hi=1024, law="log", latex="M")
M4 = Param("M", lo=4, integer=True, sample_hi=1024, law="log", latex="M")  # moments of 1/sigma_B^2 need M > 3
rho = Param("rho", lo=-2, lo_open=True, sample_lo=-1.2, sample_hi=8, latex=r"\rho")
kappa = Param("kappa", sample_lo=-3, sample_hi=3, latex=r"\kappa")
sigma_P = Param("sigma_P", lo=0, lo_open=True, sample_lo=0.05, sample_hi=20, law="log", latex=r"\sigma_{\mathcal{P}}")
mu_P = Param("mu_P", sample_lo=-5, sample_hi=5, latex=r"\mu_{\mathcal{P}}")
gamma = Param("gamma", lo=0, lo_open=True, sample_lo=0.05, sample_hi=5, latex=r"\gamma")
beta = Param("beta", sample_lo=-3, sample_hi=3, latex=r"\beta")
z = Param("z", sample_lo=-6, sample_hi=6, latex="z")
h = Param("h", sample_lo=-30, sample_hi=30, latex="h")
N = Param("N", lo=1, integer=True, sample_hi=4096, law="log", latex="N")

# teacher-student dynamics (Sec. 3): the order parameters, learning rate, gamma decay, time
R = Param("R", lo=-1, hi=1, sample_lo=-0.95, sample_hi=0.95, latex="R")
L = Param("L", lo=0, lo_open=True, sample_lo=0.2, sample_hi=5, law="log", latex="L")
eta = Param("eta", lo=0, lo_open=True, sample_lo=0.01, sample_hi=10, law="log", latex=r"\eta")
zeta = Param("zeta", lo=0, sample_lo=0, sample_hi=5, latex=r"\zeta")
time = Param("time", lo=0, sample_lo=0, sample_hi=10, latex="t")
gamma_init = Param("gamma_init", lo=0, lo_open=True, sample_lo=0.05, sample_hi=5, law="log", latex=r"\gamma(0)")
R_init = Param("R_init", lo=-1, hi=1, sample_lo=-0.95, sample_hi=0.95, latex="R(0)")
L_init = Param("L_init", lo=0, lo_open=True, sample_lo=0.2, sample_hi=5, law="log", latex="L(0)")
