"""B1. The noise of a mini-batch gradient (Bjorck, Gomes, Selman, Weinberger, NeurIPS 2018, Sec. 2).

A data set of N examples has per-example gradients g_1, ..., g_N (at a fixed parameter), mean
gbar = grad l and spread

    C = (1/N) sum_i ||g_i - gbar||^2        (the mean over a uniform example: the 1/N convention).

SGD with learning rate alpha steps along g_B = (1/|B|) sum_{i in B} g_i for a mini-batch B. The paper
bounds the error of the step, E||alpha grad l - alpha grad_SGD||^2 <= alpha^2 C/|B|. Exactly:

* with replacement (|B| i.i.d. uniform draws):  E||alpha gbar - alpha g_B||^2 = alpha^2 C/|B|;
* without replacement (a uniform |B|-subset):   alpha^2 C/|B| (N - |B|)/(N - 1).

Both follow by the same route: with h_i = g_i - gbar (so sum_i h_i = 0) and w_i the weight of example i in
the batch (the draw count c_i, or the inclusion indicator z_i), alpha (gbar - g_B) = -(alpha/|B|) sum_i w_i h_i,
and by exchangeability of the weights

    E||sum_i w_i h_i||^2 = E[w_1^2] sum_i ||h_i||^2 + E[w_1 w_2] sum_{i != j} h_i.h_j = (E[w_1^2] - E[w_1 w_2]) N C,

as sum_{i != j} h_i.h_j = ||sum_i h_i||^2 - sum_i ||h_i||^2 = -N C. This reduction is an argument in words
(written once, in each chain's first expression), checked by ``cross_sum`` at N = 4 and, with everything else,
by the enumerations below. What is symbolic in N and |B| is the rest: the weights' moments, lemmas proven
from the draw counts' moment generating function (1 + (e^t1 - 1)/N + (e^t2 - 1)/N)^|B| (independent draws)
and by counting subsets, P(i in B) = binom(N-1, |B|-1)/binom(N, |B|) = |B|/N and P(i, j in B) =
|B|(|B|-1)/(N(N-1)), and their substitution into the reduced form. Independently, both values are proven by
exact enumeration of every draw for explicit small N and |B| (N <= 5) with symbolic per-example gradients in
two coordinates (the identities are polynomial in the coordinates and hold coordinate by coordinate, so two
coordinates stand for any dimension).

The bound: the without-replacement value never exceeds the with-replacement one (N >= 2, |B| >= 1; proven
after |B| = 1 + m, N = 2 + q with m, q >= 0), the gap alpha^2 C (|B| - 1)/(|B| (N - 1)) vanishing only at
|B| = 1; a full batch has no noise. So the printed inequality holds (``printed_holds``: the printed right-hand
side is the with-replacement value, and the without-replacement value plus the gap), with equality for
sampling with replacement when C is normalised by 1/N, as the paper's C (an expectation over a uniformly
drawn example) is. With the unbiased convention C_u = (1/(N-1)) sum_i ||g_i - gbar||^2 the exact forms read
alpha^2 C_u/|B| (1 - |B|/N) without replacement and alpha^2 C_u (N-1)/(N |B|) with replacement: the printed
bound still holds, but is then never attained. No erratum: the print is right for the paper's C.

Simulated (``checks/bjorck2018/noise.py``): per-example gradients of a small logistic MLP on synthetic
data, C computed from them, mini-batches drawn with and without replacement; both exact values are tested
against E||alpha gbar - alpha g_B||^2. The printed bound is not simulated separately: it follows from the
with-replacement value and the proven bound (``printed_holds``).
"""

import itertools

import sympy as sp

from bnsym import Derivation, Identity, Inequality, Param, ProcessClaim, Source, Theorem, by
from bnsym.linalg import dot, vector
from bnsym.moments import MomentTable

SOURCE = Source("Bjorck, Gomes, Selman, Weinberger, NeurIPS 2018", "Sec. 2", "SGD noise bound")

N = Param("N", lo=2, integer=True, sample_lo=20, sample_hi=1000, law="log", latex="N")
batch = Param("B", lo=1, integer=True, sample_lo=1, sample_hi=16, latex="|B|")
alpha = Param("alpha", lo=0, lo_open=True, sample_lo=0.001, sample_hi=10, law="log", latex="\\alpha")
C = Param("C", lo=0, sample_lo=0.01, sample_hi=100, law="log", latex="C")
C_u = Param("C_u", lo=0, lo_open=True, sample_lo=0.01, sample_hi=100, law="log", latex="C_u")
_N, _b, _a, _C, _Cu = N.symbol, batch.symbol, alpha.symbol, C.symbol, C_u.symbol

with_replacement = _a**2 * _C / _b
"""E||alpha gbar - alpha g_B||^2 for |B| i.i.d. uniform draws (C with 1/N)."""
without_replacement = _a**2 * _C / _b * (_N - _b) / (_N - 1)
"""E||alpha gbar - alpha g_B||^2 for a uniform |B|-subset (C with 1/N)."""
printed_bound = _a**2 * _C / _b
"""The printed right-hand side alpha^2 C/|B|."""

# -- lemmas: moments of the batch weights (symbolic N, |B|) ----------------------------------------------------
_t1, _t2 = sp.symbols("t_1 t_2", real=True)
count_mgf = (1 + (sp.exp(_t1) - 1) / _N + (sp.exp(_t2) - 1) / _N) ** _b
"""The joint moment generating function of the draw counts (c_1, c_2) of two examples: |B| independent draws,
each adding 1 to c_1 with probability 1/N and to c_2 with probability 1/N."""
_at0 = {_t1: 0, _t2: 0}
count_mean = Identity(title="E[c_1] = |B|/N: the first derivative of the counts' MGF at 0 (symbolic N, |B|)",
                      lhs=sp.diff(count_mgf, _t1).subs(_at0), rhs=_b / _N)
count_square = Identity(
    title="E[c_1^2] = |B|/N + |B|(|B|-1)/N^2: the second derivative of the counts' MGF at 0 (symbolic N, |B|)",
    lhs=sp.diff(count_mgf, _t1, 2).subs(_at0), rhs=_b / _N + _b * (_b - 1) / _N**2)
count_cross = Identity(
    title="E[c_1 c_2] = |B|(|B|-1)/N^2: the mixed derivative of the counts' MGF at 0 (symbolic N, |B|)",
    lhs=sp.diff(count_mgf, _t1, _t2).subs(_at0), rhs=_b * (_b - 1) / _N**2)
inclusion_one = Identity(
    title="P(i in B) = binom(N-1, |B|-1)/binom(N, |B|) = |B|/N for a uniform |B|-subset (symbolic N, |B|)",
    lhs=sp.binomial(_N - 1, _b - 1) / sp.binomial(_N, _b), rhs=_b / _N)
inclusion_two = Identity(
    title="P(i, j in B) = binom(N-2, |B|-2)/binom(N, |B|) = |B|(|B|-1)/(N(N-1)) for i != j (symbolic N, |B|)",
    lhs=sp.binomial(_N - 2, _b - 2) / sp.binomial(_N, _b), rhs=_b * (_b - 1) / (_N * (_N - 1)))

_c1 = Param("c_1", lo=0, integer=True, sample_hi=16)
_c2 = Param("c_2", lo=0, integer=True, sample_hi=16)
_z1 = Param("z_1", lo=0, hi=1, integer=True)
_z2 = Param("z_2", lo=0, hi=1, integer=True)
COUNTS = MomentTable(
    f"draw counts with replacement, the lemmas above: E[c_1] = {count_mean.rhs}, E[c_1^2] = {count_square.rhs},"
    f" E[c_1 c_2] = {count_cross.rhs} (c_2 alike)", (_c1.symbol, _c2.symbol),
    {(1, 0): count_mean.rhs, (0, 1): count_mean.rhs, (2, 0): count_square.rhs, (0, 2): count_square.rhs,
     (1, 1): count_cross.rhs})
INCLUSION = MomentTable(
    f"inclusion indicators of a uniform subset, the lemmas above: E[z_1] = E[z_1^2] = {inclusion_one.rhs} (z^2 = z),"
    f" E[z_1 z_2] = {inclusion_two.rhs} (z_2 alike)", (_z1.symbol, _z2.symbol),
    {(1, 0): inclusion_one.rhs, (0, 1): inclusion_one.rhs, (2, 0): inclusion_one.rhs, (0, 2): inclusion_one.rhs,
     (1, 1): inclusion_two.rhs})

_GROUPED = ("alpha (gbar - g_B) = -(alpha/|B|) sum_i w_i h_i with h_i = g_i - gbar; by exchangeability of the weights"
            " E||sum_i w_i h_i||^2 = E[w_1^2] sum_i ||h_i||^2 + E[w_1 w_2] sum_(i != j) h_i.h_j, and these sums are"
            " N C and -N C")
_SCOPE = ("(the exchangeable reduction by argument, enumerated at N = {}; the weights' moments substituted for"
          " symbolic N, |B|)")
noise_with_replacement = Derivation(
    title="with replacement: E||alpha gbar - alpha g_B||^2 = alpha^2 C/|B| " + _SCOPE.format("3, 4"),
    chain=[(_a / _b)**2 * (_c1.symbol**2 * _N * _C - _c1.symbol * _c2.symbol * _N * _C),
           ((_a / _b)**2 * (count_square.rhs * _N * _C - count_cross.rhs * _N * _C), by.expectation(COUNTS)),
           (with_replacement, by.algebra)],
    where=(_c1, _c2), note="the first expression: " + _GROUPED + " (w_i = c_i, the draw count of example i)")
noise_without_replacement = Derivation(
    title="without replacement: E||alpha gbar - alpha g_B||^2 = alpha^2 C/|B| (N - |B|)/(N - 1) "
          + _SCOPE.format("4, 5"),
    chain=[(_a / _b)**2 * (_z1.symbol**2 * _N * _C - _z1.symbol * _z2.symbol * _N * _C),
           ((_a / _b)**2 * (inclusion_one.rhs * _N * _C - inclusion_two.rhs * _N * _C), by.expectation(INCLUSION)),
           (without_replacement, by.algebra)],
    where=(_z1, _z2), note="the first expression: " + _GROUPED + " (w_i = z_i, the inclusion indicator of example i)")

# -- the same, by exact enumeration of every draw (explicit N, |B|; symbolic gradients in two coordinates) ---------
_D = 2
_vectors = [vector(f"g{i}", _D) for i in range(1, 6)]
_G = [v for v, _ in _vectors]
GRADIENT_PARAMS = tuple(p for _, ps in _vectors for p in ps)


def _mean(vs: list[sp.Matrix]) -> sp.Matrix:
    return sum(vs, sp.zeros(_D, 1)) / len(vs)


def spread(gs: list[sp.Matrix]) -> sp.Expr:
    """C = (1/N) sum_i ||g_i - gbar||^2 of explicit per-example gradients."""
    gbar = _mean(gs)
    return sum(dot(g - gbar, g - gbar) for g in gs) / len(gs)


def step_error(gs: list[sp.Matrix], draw: tuple[int, ...]) -> sp.Expr:
    """||alpha gbar - alpha g_B||^2 for the mini-batch of the examples ``draw`` (indices, repeats allowed)."""
    e = _mean(gs) - _mean([gs[i] for i in draw])
    return _a**2 * dot(e, e)


def _enumerated(n: int, b: int, replace: bool) -> Identity:
    gs = _G[:n]
    draws = list(itertools.product(range(n), repeat=b) if replace else itertools.combinations(range(n), b))
    value = with_replacement if replace else without_replacement
    how = "every ordered draw of |B| i.i.d. uniform examples" if replace else "every |B|-subset"
    return Identity(title=f"{'with' if replace else 'without'} replacement by enumeration of {how}: the mean of"
                          f" ||alpha gbar - alpha g_B||^2 is the closed form (N = {n}, |B| = {b}, gradients in R^2)",
                    lhs=sum(step_error(gs, d) for d in draws) / len(draws),
                    rhs=value.subs({_C: spread(gs), _N: n, _b: b}))


with_enumerated_3_2 = _enumerated(3, 2, True)
with_enumerated_4_3 = _enumerated(4, 3, True)
without_enumerated_4_2 = _enumerated(4, 2, False)
without_enumerated_5_3 = _enumerated(5, 3, False)
cross_sum = Identity(
    title="sum_(i != j) h_i.h_j = -sum_i ||h_i||^2 = -N C for h_i = g_i - gbar (N = 4, gradients in R^2)",
    lhs=sum(dot(_G[i] - _mean(_G[:4]), _G[j] - _mean(_G[:4])) for i in range(4) for j in range(4) if i != j),
    rhs=-4 * spread(_G[:4]), note="for every N: sum_i h_i = 0, so ||sum_i h_i||^2 = 0 = N C + sum_(i != j) h_i.h_j")

# -- the bound -------------------------------------------------------------------------------------------------
_m = Param("m", lo=0, integer=True, sample_hi=16)
_q = Param("q", lo=0, integer=True, sample_hi=1000, law="log", sample_lo=1)
_shift = {_b: 1 + _m.symbol, _N: 2 + _q.symbol}
"""|B| = 1 + m, N = 2 + q with m, q >= 0: the domain |B| >= 1, N >= 2 in the signs SymPy reads."""
bound = Inequality(
    title="without <= with replacement: alpha^2 C/|B| (N-|B|)/(N-1) <= alpha^2 C/|B| for every N >= 2, |B| >= 1"
          " (written with |B| = 1 + m, N = 2 + q, m, q >= 0)",
    lhs=without_replacement.subs(_shift), op="<=", rhs=with_replacement.subs(_shift), where=(_m, _q))
bound_gap = Identity(
    title="the gap: alpha^2 C/|B| - alpha^2 C/|B| (N-|B|)/(N-1) = alpha^2 C (|B|-1)/(|B| (N-1)) (symbolic N, |B|)",
    lhs=with_replacement - without_replacement, rhs=_a**2 * _C * (_b - 1) / (_b * (_N - 1)),
    note="zero only at |B| = 1 (or C = 0): a single example is the same draw either way")
equal_at_one = Identity(title="at |B| = 1 with and without replacement agree: alpha^2 C",
                        lhs=without_replacement.subs(_b, 1), rhs=with_replacement.subs(_b, 1))
_Cpos = Param("C", lo=0, lo_open=True, sample_lo=0.01, sample_hi=100, law="log", latex="C")
_shift2 = {_b: 2 + _m.symbol, _N: 2 + _q.symbol, _C: _Cpos.symbol}
strict_above_one = Inequality(
    title="for |B| >= 2 and C > 0 sampling without replacement is strictly less noisy (written with |B| = 2 + m,"
          " N = 2 + q, m, q >= 0)",
    lhs=without_replacement.subs(_shift2), op="<", rhs=with_replacement.subs(_shift2), where=(_m, _q, _Cpos))
full_batch = Identity(title="a full batch without replacement (|B| = N) has no noise",
                      lhs=without_replacement.subs(_b, _N), rhs=0)

# -- the convention of C -----------------------------------------------------------------------------------------
_C_from_u = (_N - 1) * _Cu / _N  # C = (1/N) sum ||h||^2 = ((N-1)/N) C_u
unbiased_without = Identity(
    title="with C_u = sum ||g_i - gbar||^2/(N-1): without replacement alpha^2 C_u/|B| (1 - |B|/N)",
    lhs=without_replacement.subs(_C, _C_from_u), rhs=_a**2 * _Cu / _b * (1 - _b / _N))
unbiased_with = Identity(title="with C_u: with replacement alpha^2 C_u (N-1)/(N |B|)",
                         lhs=with_replacement.subs(_C, _C_from_u), rhs=_a**2 * _Cu * (_N - 1) / (_N * _b))
unbiased_not_attained = Inequality(
    title="with C_u the printed bound alpha^2 C_u/|B| is never attained: with replacement gives strictly less",
    lhs=_a**2 * _Cu * (_N - 1) / (_N * _b), op="<", rhs=printed_bound.subs(_C, _Cu),
    note="equality with replacement needs the 1/N convention of C, the paper's expectation over a uniform example")

# -- the process -----------------------------------------------------------------------------------------------
_QUANTITY = ("E||alpha gbar - alpha g_B||^2 over mini-batches of a fixed data set of N examples ({how}), per-example"
             " gradients of a logistic MLP at a fixed parameter, C = (1/N) sum_i ||g_i - gbar||^2 computed from them")
sgd_noise_with = ProcessClaim(
    title="with replacement the SGD step error is alpha^2 C/|B| (real per-example gradients)",
    quantity=_QUANTITY.format(how="|B| i.i.d. uniform draws"),
    quantity_tex=r"\mathbb{E}\|\alpha\nabla l - \alpha\nabla_{SGD}\|^2", value=with_replacement)
sgd_noise_without = ProcessClaim(
    title="without replacement the SGD step error is alpha^2 C/|B| (N - |B|)/(N - 1) (real per-example gradients)",
    quantity=_QUANTITY.format(how="a uniform |B|-subset"),
    quantity_tex=r"\mathbb{E}\|\alpha\nabla l - \alpha\nabla_{SGD}\|^2", value=without_replacement)
printed_holds = Derivation(
    title="the printed bound E||alpha grad l - alpha grad_SGD||^2 <= alpha^2 C/|B| holds both ways: alpha^2 C/|B| is"
          " the with-replacement value (attained) and the without-replacement value plus the gap, >= 0 by the proven"
          " bound",
    chain=[printed_bound, (with_replacement, by.lemma(sgd_noise_with)),
           (without_replacement + bound_gap.rhs, by.lemma(bound_gap))],
    note="the links are the with-replacement value (derived above and simulated) and the gap identity: with"
         " replacement the printed right-hand side is attained; without replacement the value is it less the gap,"
         " which is nonnegative, zero only at |B| = 1")

B1 = Theorem(
    title="SGD noise: the mini-batch step error with and without replacement, and the printed bound",
    source=SOURCE,
    params=(N, batch, alpha, C, C_u) + GRADIENT_PARAMS,
    claims=(count_mean, count_square, count_cross, inclusion_one, inclusion_two, noise_with_replacement,
            noise_without_replacement, with_enumerated_3_2, with_enumerated_4_3, without_enumerated_4_2,
            without_enumerated_5_3, cross_sum, bound, bound_gap, equal_at_one, strict_above_one, full_batch,
            unbiased_without, unbiased_with, unbiased_not_attained, sgd_noise_with, sgd_noise_without,
            printed_holds),
    summary="E||alpha gbar - alpha g_B||^2 = alpha^2 C/|B| with replacement and alpha^2 C/|B| (N-|B|)/(N-1) without:"
            " the batch weights' moments for symbolic N, |B| substituted into the exchangeable reduction (an argument,"
            " checked at N = 4), and both values by enumeration of every draw at N <= 5; the printed bound holds"
            " (equality with replacement for C with 1/N); both values checked on per-example gradients of a"
            " logistic MLP.",
)
