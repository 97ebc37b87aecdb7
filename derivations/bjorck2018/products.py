"""B2. Products of Gaussian matrices: norm preservation and the singular value edge (Bjorck et al. 2018, Sec. 5).

W_1, ..., W_k are i.i.d. N x N matrices with i.i.d. N(0, 1/N) entries (the variance-preserving
initialization of a linear layer) and A = W_k ... W_1.

**Norm preservation.** E||W x||^2 = ||x||^2: each of the N rows has E[(w_i.x)^2] = sum_j x_j^2/N, the entries
independent with variance 1/N, and the N rows sum to ||x||^2 (proven by expectation over the entries for
N = 3). For the product, condition on W_(k-1) ... W_1 x, independent of W_k, and apply the one-matrix lemma
once per factor: induction on k (proven for k = 3, N = 2, the expectation over one matrix at a time, the
other entries held as constants).

**Finite-N trace moments, exactly.** With P = W_(k-1) ... W_1 W_1' ... W_(k-1)' (P_0 = I), A A' = W_k P W_k'.
For the products of traces p_lambda(Q) = prod_j tr(Q^lambda_j) of Q = W P W' (lambda a partition of n),
Wick's theorem gives E[p_lambda(Q) | P] = sum_mu T_lambda,mu(N) p_mu(P): pair the 2n entries of W in all
ways; a pairing identifies row indices (each class of rows contributes a factor N) and column indices (a
class of m column labels contributes tr(P^m)), and each entry pair contributes the variance 1/N. So
T_lambda,mu(N) = N^-n sum over pairings with column classes mu of N^(row classes): a polynomial in 1/N
(``pairing_count`` runs this count with N a symbol). The matrices T2 (n = 2) and T3 (n = 3) are written out
below and proven equal to the pairing count for symbolic N (``count_2``, ``count_3``); the count itself is
anchored by expectation over the entries at N = 2, 3 (n = 2) and N = 3 (n = 3), where W O has the law of W
for orthogonal O, so P may be taken diagonal. (One N cannot pin T3: its entries have degree 2 in 1/N, and at
N = 2 the invariants p_3, p_1 p_2, p_1^3 of a 2 x 2 matrix are dependent; the symbolic count is the proof
for every N, the expectations are the anchors that the count is Wick's.) By independence the vector
s_k = E[p(P_k)] obeys s_(k+1) = T s_k, s_0 = p(I) = (N, N^2, ...), and the closed forms below (eigenvalues
of T2: (N-1)/N, (N+2)/N; of T3: (N-1)(N-2)/N^2, (N-1)(N+2)/N^2, (N+2)(N+4)/N^2) are proven to satisfy both
by induction, for symbolic k and N. For real Gaussian matrices this gives, for every k and N,

    E tr((A A')^2)/N = ((N+2) ((N+2)/N)^k - (N-1) ((N-1)/N)^k)/3              (2 + 1/N at k = 1),

and E tr((A A')^3)/N likewise (5 + 6/N + 4/N^2 at k = 1, the real Wishart moment).

**The Fuss-Catalan law.** As N -> oo these tend to FC_k(n) = binom((k+1) n, n)/(k n + 1) (proven by series in
1/N for symbolic k, n = 2, 3): FC_k(1) = 1, FC_k(2) = k + 1, FC_k(3) = (k+1)(3k+2)/2. The squared singular
values of A follow, as N -> oo, the Fuss-Catalan law with these moments (the known limit law of products of
Gaussian matrices; derived here are its moments n = 2, 3 and its edge). The law lives on [0, (k+1)^(k+1)/k^k]:
the support's right end is lim_n m_n^(1/n), equal to lim_n FC_k(n+1)/FC_k(n) where that limit exists. The ratio
is a rational function of n for each k, its limit proven for k = 1..5, and for symbolic k in its Gamma form
(k+1) Gamma(k n + 2) Gamma((k+1)(n+1))/(Gamma(k (n+1) + 2) Gamma((k+1) n + 1)) by the Stirling series of
log-Gamma (``edge_every_k``). Its square roots are 2, 3.0792, 3.8639 for k = 1, 3, 5: the printed 2 exactly and
3.079, 3.864 to their last digit.

**From the edge to the largest singular value.** That the squared singular value law converges to the
Fuss-Catalan law gives only liminf s_max(A)^2 >= (k+1)^(k+1)/k^k as N -> oo (a positive fraction of the
spectrum lies near the edge). That no singular value stays outside the support, so that s_max(A) ->
sqrt((k+1)^(k+1)/k^k), is a separate theorem: the operator norm of a polynomial in independent Gaussian
matrices converges to that of its free limit (strong asymptotic freeness; Haagerup and Thorbjornsen 2005 for
complex Gaussian matrices, Schultz 2005 for real ones). It is cited here, not proven, and the largest singular
value is measured (``largest_singular_value``), not tested. The limits are N -> oo at fixed k: at fixed N the
growth rate of the product is negative: by rotation invariance log||A x||^2/||x||^2 is a sum of k i.i.d. terms
log(chi^2_N/N), of mean log(2/N) + digamma(N/2) < log E[chi^2_N/N] = 0 (Jensen), and the top Lyapunov exponent,
half of it (Newman 1986), is that of ||A|| (Furstenberg-Kesten), so s_max(A) -> 0 as k -> oo. The edge below
is the N -> oo edge.

**Variance preserving is not conditioning preserving.** The mean squared singular value is FC_k(1) = 1 at
every depth (and E tr(A A')/N = 1 exactly at every N: norm preservation, column by column), while the N -> oo
edge grows: d/dk log edge(k) = log(1 + 1/k) > 0, and edge(k) > e k (numeric, real k >= 1).

Simulated (``checks/bjorck2018/products.py``): E||A x||^2/||x||^2 = 1 and the exact finite-N moments
(n = 2, 3; k = 1, 3, 5) by z-tests; the Fuss-Catalan limit as an order fit in N where the two-term fit of
the engine is exact (by the closed forms the remainder is a polynomial in 1/N of degree k for n = 2 and 2k for
n = 3: degree <= 2 at (k, n) = (1, 2), (2, 2), (1, 3)); the largest singular value and the condition number
measured.
"""

import sympy as sp

from bnsym import Asymptotic, Derivation, Identity, Inequality, Measurement, Param, ProcessClaim, Source, Theorem, by
from bnsym.linalg import dot, vector
from bnsym.moments import MomentTable

SOURCE = Source("Bjorck, Gomes, Selman, Weinberger, NeurIPS 2018", "Sec. 5", "random matrix theory")

N = Param("N", lo=1, integer=True, sample_lo=2, sample_hi=1000, law="log", latex="N")
k = Param("k", lo=0, integer=True, sample_hi=30, latex="k")
n = Param("n", lo=1, integer=True, sample_hi=200, law="log", latex="n")
depth = Param("K", lo=1, sample_hi=1000, law="log", latex="k")  # the depth as a real variable, for growth
k_pos = Param("k", lo=1, integer=True, sample_hi=30, latex="k")  # depth >= 1, where log k is defined
_N, _k, _n, _x, _kp = N.symbol, k.symbol, n.symbol, depth.symbol, k_pos.symbol


def fuss_catalan(kk: sp.Expr, nn: sp.Expr) -> sp.Expr:
    """FC_k(n) = binom((k+1) n, n)/(k n + 1), the n-th moment of the Fuss-Catalan law of order k."""
    return sp.binomial((kk + 1) * nn, nn) / (kk * nn + 1)


def edge(kk: sp.Expr) -> sp.Expr:
    """(k+1)^(k+1)/k^k, the right end of the Fuss-Catalan support."""
    return (kk + 1) ** (kk + 1) / kk**kk


def _compositions(total: int, parts: int):
    if parts == 1:
        yield (total,)
        return
    for first in range(total, -1, -1):
        for rest in _compositions(total - first, parts - 1):
            yield (first,) + rest


def gaussian_entries(entries: list[sp.Symbol], variance: sp.Expr, degree: int, what: str) -> MomentTable:
    """The moments of degree ``degree`` of i.i.d. N(0, variance) entries: prod_i (e_i - 1)!! variance^(e_i/2)
    when every exponent e_i is even, else 0."""
    moments = {}
    for exps in _compositions(degree, len(entries)):
        value = sp.S.One
        for e in exps:
            value = sp.S.Zero if e % 2 else value * sp.factorial2(e - 1) * variance ** (e // 2)
        moments[exps] = value
    return MomentTable(f"{what}: i.i.d. N(0, {variance}) entries, moments of degree {degree}", tuple(entries), moments)


def _matrix(name: str, size: int) -> tuple[sp.Matrix, tuple[Param, ...]]:
    params = tuple(Param(f"{name}_{i}{j}", sample_lo=-3, sample_hi=3) for i in range(1, size + 1)
                   for j in range(1, size + 1))
    return sp.Matrix(size, size, [p.symbol for p in params]), params


# -- norm preservation ------------------------------------------------------------------------------------------
_W3, _W3p = _matrix("w", 3)
_x3, _x3p = vector("x", 3)
norm_one_matrix = Derivation(
    title="E||W x||^2 = ||x||^2 for W with i.i.d. N(0, 1/N) entries (N = 3)",
    chain=[dot(_W3 * _x3, _W3 * _x3), (dot(_x3, _x3), by.expectation(gaussian_entries(list(_W3), sp.Rational(1, 3), 2,
                                                                                         "W (N = 3)")))],
    where=_W3p,
    note="for every N the same computation row by row: E[(w_i.x)^2] = sum_j x_j^2/N, and the N rows sum to ||x||^2")
_Ws = [_matrix(f"a{m}", 2) for m in (1, 2, 3)]
_x2, _x2p = vector("y", 2)
_tables = [gaussian_entries(list(W), sp.Rational(1, 2), 2, f"W_{m} (N = 2), the other matrices held fixed:"
                                                             " independence")
           for m, (W, _) in zip((1, 2, 3), _Ws)]
_y1 = _Ws[0][0] * _x2
_y2 = _Ws[1][0] * _y1
_y3 = _Ws[2][0] * _y2
norm_product = Derivation(
    title="E||W_3 W_2 W_1 x||^2 = ||x||^2: the one-matrix lemma once per factor, by independence (k = 3, N = 2)",
    chain=[dot(_y3, _y3), (dot(_y2, _y2), by.expectation(_tables[2])), (dot(_y1, _y1), by.expectation(_tables[1])),
           (dot(_x2, _x2), by.expectation(_tables[0]))],
    where=tuple(p for _, ps in _Ws for p in ps),
    note="for every k: E||W_k y||^2 = ||y||^2 given y = W_(k-1) ... W_1 x, which is independent of W_k; induction on k")

# -- one step of the trace moments (Wick) -------------------------------------------------------------------------
PARTITIONS_2 = ((2,), (1, 1))
PARTITIONS_3 = ((3,), (2, 1), (1, 1, 1))
T2 = sp.Matrix([[1 + 1 / _N, 1 / _N],
                [2 / _N, 1]])
"""E[p_lambda(W P W')] = sum_mu T2[lambda, mu] p_mu(P) for lambda, mu in PARTITIONS_2 (rows, columns)."""
T3 = sp.Matrix([[1 + 3 / _N + 4 / _N**2, 3 / _N + 3 / _N**2, 1 / _N**2],
                [4 / _N + 4 / _N**2, 1 + 1 / _N + 4 / _N**2, 1 / _N],
                [8 / _N**2, 6 / _N, 1]])
"""The same for PARTITIONS_3."""


def pairings(items: list[int]):
    """Every perfect matching of ``items`` (an even number of them), as lists of pairs."""
    if not items:
        yield []
        return
    for i in range(1, len(items)):
        for rest in pairings(items[1:i] + items[i + 1:]):
            yield [(items[0], items[i])] + rest


def class_sizes(labels: int, pairs: list[tuple[int, int]]) -> tuple[int, ...]:
    """The sizes of the classes of ``range(labels)`` joined by ``pairs``, largest first."""
    parent = list(range(labels))

    def root(a: int) -> int:
        while parent[a] != a:
            a = parent[a]
        return a

    for a, b in pairs:
        parent[root(a)] = root(b)
    sizes: dict[int, int] = {}
    for a in range(labels):
        sizes[root(a)] = sizes.get(root(a), 0) + 1
    return tuple(sorted(sizes.values(), reverse=True))


def pairing_count(partitions: tuple[tuple[int, ...], ...], size: sp.Expr) -> sp.Matrix:
    """T[lambda, mu] by Wick's theorem, for N = ``size`` (a symbol or a number).

    p_lambda(W P W') with P = diag(p) is a sum over row labels i and column labels j of products of 2n
    entries: the cycle of length m contributes W[i_t, j_t] p_(j_t) W[i_(t+1), j_t], t = 1..m, i_(m+1) = i_1.
    Its expectation sums over the pairings of the 2n entries, each pair the variance 1/N if both its row
    labels and its column labels agree: a class of row labels then sums to N, a class of m column labels
    to tr(P^m). So T[lambda, mu] = N^-n sum over the pairings whose column classes are mu of N^(row classes).
    """
    index = {mu: c for c, mu in enumerate(partitions)}
    T = sp.zeros(len(partitions), len(partitions))
    for r, lam in enumerate(partitions):
        slots: list[tuple[int, int]] = []  # (row label, column label) of each entry of W
        rows = cols = 0
        for m in lam:
            for t in range(m):
                slots += [(rows + t, cols), (rows + (t + 1) % m, cols)]
                cols += 1
            rows += m
        for pairing in pairings(list(range(len(slots)))):
            mu = class_sizes(cols, [(slots[a][1], slots[b][1]) for a, b in pairing])
            T[r, index[mu]] += size ** len(class_sizes(rows, [(slots[a][0], slots[b][0]) for a, b in pairing]))
    return T / size ** sum(partitions[0])


def invariants(M: sp.Matrix, partitions: tuple[tuple[int, ...], ...]) -> sp.Matrix:
    """The column of p_lambda(M) = prod_j tr(M^lambda_j)."""
    return sp.Matrix([sp.Mul(*[(M**m).trace() for m in lam]) for lam in partitions])


_tests = tuple(Param(f"v_{i}", sample_lo=-3, sample_hi=3) for i in range(1, 4))
_v = sp.Matrix([p.symbol for p in _tests])


def _wick_step(size: int, T: sp.Matrix, partitions: tuple[tuple[int, ...], ...]) -> Derivation:
    W, entries = _matrix(f"u{size}{len(partitions)}", size)
    ps = tuple(Param(f"p_{i}", lo=0, lo_open=True, sample_lo=0.1, sample_hi=3) for i in range(1, size + 1))
    P = sp.diag(*[p.symbol for p in ps])
    m = len(partitions)
    v = _v[:m, :]
    degree = 2 * sum(partitions[0])
    table = gaussian_entries(list(W), sp.Rational(1, size), degree, f"W (N = {size})")
    return Derivation(
        title=f"anchor of the count: E[p_lambda(W P W')] = sum_mu T{sum(partitions[0])}[lambda, mu] p_mu(P), lambda,"
              f" mu partitions of {sum(partitions[0])}, against a test vector v (N = {size}, P diagonal)",
        chain=[dot(v, invariants(W * P * W.T, partitions)),
               (dot(v, T.subs(_N, size) * invariants(P, partitions)), by.expectation(table))],
        where=entries + ps + _tests[:m],
        note="P diagonal: W O has the law of W for orthogonal O, so E f(W P W') depends on P through its eigenvalues")


_q = tuple(Param(f"q_{i}", sample_lo=-3, sample_hi=3) for i in range(1, 4))
_qv = sp.Matrix([p.symbol for p in _q])


def _counted(T: sp.Matrix, partitions: tuple[tuple[int, ...], ...]) -> Identity:
    m, n_ = len(partitions), sum(partitions[0])
    v, q = _v[:m, :], _qv[:m, :]
    return Identity(title=f"T{n_} is the Wick pairing count: N^-{n_} sum over the pairings of the {2 * n_} entries of"
                          f" W of N^(row classes), by column classes (symbolic N)",
                    lhs=dot(v, pairing_count(partitions, _N) * q), rhs=dot(v, T * q), where=_tests[:m] + _q[:m],
                    note="v' T q for free test vectors v, q: the identity holds entry by entry; this is the proof of"
                         " T for every N, and the expectations over the entries below anchor the count")


count_2 = _counted(T2, PARTITIONS_2)
count_3 = _counted(T3, PARTITIONS_3)
trace_step_2_N2 = _wick_step(2, T2, PARTITIONS_2)
trace_step_2_N3 = _wick_step(3, T2, PARTITIONS_2)
trace_step_3_N3 = _wick_step(3, T3, PARTITIONS_3)

# -- the closed forms, by induction on k (symbolic k and N) ----------------------------------------------------
_la, _lb = (_N - 1) / _N, (_N + 2) / _N
_l1, _l2, _l3 = (_N - 1) * (_N - 2) / _N**2, (_N - 1) * (_N + 2) / _N**2, (_N + 2) * (_N + 4) / _N**2


def state2(kk: sp.Expr) -> sp.Matrix:
    """E[(tr P_k^2, (tr P_k)^2)] after k factors, in closed form."""
    return _N * sp.Matrix([-(_N - 1) / 3 * _la**kk + (_N + 2) / 3 * _lb**kk,
                           2 * (_N - 1) / 3 * _la**kk + (_N + 2) / 3 * _lb**kk])


def state3(kk: sp.Expr) -> sp.Matrix:
    """E[(tr P_k^3, tr P_k tr P_k^2, (tr P_k)^3)] after k factors, in closed form."""
    a, b, c = (_N - 2) * (_N - 1), (_N - 1) * (_N + 2), (_N + 2) * (_N + 4)
    return _N * sp.Matrix([a / 12 * _l1**kk - 3 * b / 20 * _l2**kk + c / 15 * _l3**kk,
                           -a / 6 * _l1**kk + b / 10 * _l2**kk + c / 15 * _l3**kk,
                           a / 3 * _l1**kk + 3 * b / 5 * _l2**kk + c / 15 * _l3**kk])


_v2, _v3 = _v[:2, :], _v
start2 = Identity(title="k = 0 (A = I): the closed form of n = 2 starts at p(I) = (N, N^2) (symbolic N)",
                  lhs=dot(_v2, state2(0)), rhs=dot(_v2, sp.Matrix([_N, _N**2])), where=_tests[:2])
induction2 = Identity(title="the closed form of n = 2 obeys s_(k+1) = T2 s_k (symbolic k and N)",
                      lhs=dot(_v2, state2(_k + 1)), rhs=dot(_v2, T2 * state2(_k)), where=_tests[:2])
start3 = Identity(title="k = 0 (A = I): the closed form of n = 3 starts at p(I) = (N, N^2, N^3) (symbolic N)",
                  lhs=dot(_v3, state3(0)), rhs=dot(_v3, sp.Matrix([_N, _N**2, _N**3])), where=_tests)
induction3 = Identity(title="the closed form of n = 3 obeys s_(k+1) = T3 s_k (symbolic k and N)",
                      lhs=dot(_v3, state3(_k + 1)), rhs=dot(_v3, T3 * state3(_k)), where=_tests)

moment2 = ((_N + 2) * _lb**_k - (_N - 1) * _la**_k) / 3
"""E tr((A A')^2)/N for the product of k real Gaussian N x N matrices."""
moment3 = state3(_k)[0] / _N
"""E tr((A A')^3)/N."""
moment2_form = Identity(title="E tr((A A')^2)/N = ((N+2) ((N+2)/N)^k - (N-1) ((N-1)/N)^k)/3 (symbolic k and N)",
                        lhs=state2(_k)[0] / _N, rhs=moment2)
wishart2 = Identity(title="k = 1: E tr((W W')^2)/N = 2 + 1/N (real Wishart)", lhs=moment2.subs(_k, 1), rhs=2 + 1 / _N)
wishart3 = Identity(title="k = 1: E tr((W W')^3)/N = 5 + 6/N + 4/N^2 (real Wishart)", lhs=moment3.subs(_k, 1),
                    rhs=5 + 6 / _N + 4 / _N**2)

# -- the Fuss-Catalan limit --------------------------------------------------------------------------------------
fc_first = Identity(title="FC_k(1) = 1: the mean squared singular value is 1 at every depth (symbolic k)",
                    lhs=fuss_catalan(_k, 1), rhs=1)
fc_second = Identity(title="FC_k(2) = k + 1 (symbolic k)", lhs=fuss_catalan(_k, 2), rhs=_k + 1)
fc_third = Identity(title="FC_k(3) = (k+1)(3k+2)/2 (symbolic k)", lhs=fuss_catalan(_k, 3),
                    rhs=(_k + 1) * (3 * _k + 2) / 2)
limit2 = Asymptotic(title="E tr((A A')^2)/N = FC_k(2) + O(1/N) (symbolic k)", lhs=moment2, rhs=fc_second.rhs, var=N,
                    order=1)
limit3 = Asymptotic(title="E tr((A A')^3)/N = FC_k(3) + O(1/N) (symbolic k)", lhs=moment3, rhs=fc_third.rhs, var=N,
                    order=1)


def ratio(kk: int) -> sp.Expr:
    """FC_k(n+1)/FC_k(n) as a rational function of n (explicit k):
    prod_(j <= k+1) ((k+1) n + j)/((n+1) prod_(2 <= j <= k+1) (k n + j))."""
    top = sp.Mul(*[(kk + 1) * _n + j for j in range(1, kk + 2)])
    return top / ((_n + 1) * sp.Mul(*[kk * _n + j for j in range(2, kk + 2)]))


def _ratio_identity(kk: int) -> Identity:
    return Identity(title=f"FC_{kk}(n+1)/FC_{kk}(n) is the rational function {sp.factor(ratio(kk))}",
                    lhs=fuss_catalan(kk, _n + 1) / fuss_catalan(kk, _n), rhs=ratio(kk))


def _edge_limit(kk: int) -> Asymptotic:
    return Asymptotic(title=f"k = {kk}: FC_k(n+1)/FC_k(n) -> (k+1)^(k+1)/k^k = {edge(sp.Integer(kk))} as n -> oo",
                      lhs=ratio(kk), rhs=edge(sp.Integer(kk)), var=n, order=1)


ratio_1, ratio_2, ratio_3, ratio_4, ratio_5 = (_ratio_identity(j) for j in range(1, 6))
edge_1, edge_2, edge_3, edge_4, edge_5 = (_edge_limit(j) for j in range(1, 6))

ratio_gamma = Identity(
    title="FC_k(n+1)/FC_k(n) = (k+1) Gamma(k n + 2) Gamma((k+1)(n+1))/(Gamma(k (n+1) + 2) Gamma((k+1) n + 1))"
          " (symbolic k >= 1)",
    lhs=fuss_catalan(_kp, _n + 1) / fuss_catalan(_kp, _n),
    rhs=(_kp + 1) * sp.gamma(_kp * _n + 2) * sp.gamma((_kp + 1) * (_n + 1))
    / (sp.gamma(_kp * (_n + 1) + 2) * sp.gamma((_kp + 1) * _n + 1)), where=(k_pos,))
edge_exp = Identity(title="exp((k+1) log(k+1) - k log k) = (k+1)^(k+1)/k^k (symbolic k >= 1)",
                    lhs=sp.exp((_kp + 1) * sp.log(_kp + 1) - _kp * sp.log(_kp)), rhs=edge(_kp), where=(k_pos,))
edge_every_k = Asymptotic(
    title="FC_k(n+1)/FC_k(n) -> exp((k+1) log(k+1) - k log k) = (k+1)^(k+1)/k^k as n -> oo, by the Stirling series of"
          " log-Gamma (symbolic k >= 1)",
    lhs=ratio_gamma.rhs, rhs=edge_exp.lhs, var=n, order=1, where=(k_pos,),
    note="the limit is written in the exponential form, which the series comparison closes; edge_exp equates it with"
         " the edge")

PRINTED = {1: "2", 3: "3.079", 5: "3.864"}
"""The printed largest singular values for k = 1, 3, 5."""


def printed_value(text: str) -> tuple[sp.Rational, sp.Rational]:
    """A printed decimal and half a unit of its last digit."""
    places = len(text.split(".")[1]) if "." in text else 0
    return sp.Rational(text), sp.Rational(1, 2 * 10**places)


def _decimals(kk: int) -> Inequality:
    """|sqrt(edge(k)) - printed| <= half a unit of the printed last digit."""
    value, half = printed_value(PRINTED[kk])
    return Inequality(title=f"k = {kk}: |sqrt((k+1)^(k+1)/k^k) - {PRINTED[kk]}| <= {half}, half a unit of the printed"
                            " last digit", lhs=sp.Abs(sp.sqrt(edge(sp.Integer(kk))) - value), op="<=", rhs=half)


decimals_1 = Identity(title=f"k = 1: sqrt((k+1)^(k+1)/k^k) = {PRINTED[1]} exactly, the printed value",
                      lhs=sp.sqrt(edge(sp.Integer(1))), rhs=printed_value(PRINTED[1])[0])
decimals_3, decimals_5 = _decimals(3), _decimals(5)

log_edge = Identity(title="log edge(k) = (k+1) log(k+1) - k log k (real k >= 1)", lhs=sp.log(edge(_x)),
                    rhs=(_x + 1) * sp.log(_x + 1) - _x * sp.log(_x))
edge_slope = Identity(title="d/dk log edge(k) = log(1 + 1/k) (real k >= 1)", lhs=sp.diff(sp.log(edge(_x)), _x),
                      rhs=sp.log(1 + 1 / _x))
edge_grows = Inequality(title="log(1 + 1/k) > 0: the N -> oo edge grows with depth (real k >= 1)",
                        lhs=sp.log(1 + 1 / _x), op=">", rhs=0)
edge_linear = Inequality(title="edge(k) > e k: the N -> oo edge grows at least linearly in depth (real k >= 1)",
                         lhs=edge(_x), op=">", rhs=sp.E * _x,
                         note="(k+1)^(k+1)/k^k = k (1 + 1/k)^(k+1) and (1 + 1/k)^(k+1) > e; the mean squared singular"
                              " value stays FC_k(1) = 1: variance preserving is not conditioning preserving. At fixed"
                              " N the growth rate of the product is negative and s_max -> 0 with depth (module"
                              " docstring)")

# -- the process -----------------------------------------------------------------------------------------------
_PRODUCT = "A = W_k ... W_1, W_i i.i.d. N x N with i.i.d. N(0, 1/N) entries (real)"
norm_process = ProcessClaim(
    title="E||A x||^2/||x||^2 = 1 for a fixed x at every depth (simulated products)",
    quantity=f"E||A x||^2/||x||^2, {_PRODUCT}, x a fixed vector", quantity_tex=r"\mathbb{E}\|Ax\|^2/\|x\|^2",
    value=sp.S.One)
moment2_process = ProcessClaim(
    title="E tr((A A')^2)/N = ((N+2) ((N+2)/N)^k - (N-1) ((N-1)/N)^k)/3 at finite N (simulated products)",
    quantity=f"E tr((A A')^2)/N, {_PRODUCT}", quantity_tex=r"\mathbb{E}\,\mathrm{tr}((AA^\top)^2)/N", value=moment2)
moment3_process = ProcessClaim(
    title="E tr((A A')^3)/N = the closed form of n = 3 at finite N (simulated products)",
    quantity=f"E tr((A A')^3)/N, {_PRODUCT}", quantity_tex=r"\mathbb{E}\,\mathrm{tr}((AA^\top)^3)/N", value=moment3)
fc_process = ProcessClaim(
    title="E tr((A A')^n)/N = FC_k(n) + O(1/N): the Fuss-Catalan moments (simulated products)",
    quantity=f"E tr((A A')^n)/N, {_PRODUCT}", quantity_tex=r"\mathbb{E}\,\mathrm{tr}((AA^\top)^n)/N",
    value=fuss_catalan(_k, _n), var=N, order=1)
largest_singular_value = Measurement(
    title="the largest singular value of A against the N -> oo edge sqrt((k+1)^(k+1)/k^k)",
    quantity=f"E s_max(A), {_PRODUCT}",
    setting="k = 1, 3, 5 at N = 16, 64, 256",
    note="s_max -> sqrt(edge) as N -> oo is the cited norm convergence (module docstring), not proven here; at the"
         " soft edge the fluctuations are of Tracy-Widom type, of order N^(-2/3), as established for products of"
         " complex Gaussian (Ginibre) matrices (Liu, Wang and Zhang 2016; assumed, not known to us, for real ones),"
         " and there is no closed-form finite-N mean: measured, and the digest reports N^(2/3) (s_max - sqrt(edge))")
condition_number = Measurement(
    title="log10 of the condition number s_max/s_min of A: growing with depth at unit mean squared singular value",
    quantity=f"E log10(s_max(A)/s_min(A)), {_PRODUCT}", setting="k = 1, 3, 5 at N = 16, 64, 256",
    note="the printed 'variance preserving is not conditioning preserving', measured on the same products")

B2 = Theorem(
    title="Products of Gaussian matrices: norm preservation, exact trace moments, the Fuss-Catalan edge",
    source=SOURCE,
    params=(N, k, n, depth) + _x3p + _x2p,
    claims=(norm_one_matrix, norm_product, count_2, count_3, trace_step_2_N2, trace_step_2_N3, trace_step_3_N3,
            start2, induction2, start3, induction3, moment2_form, wishart2, wishart3, fc_first, fc_second, fc_third,
            limit2, limit3, ratio_1, ratio_2, ratio_3, ratio_4, ratio_5, edge_1, edge_2, edge_3, edge_4, edge_5,
            ratio_gamma, edge_exp, edge_every_k, decimals_1, decimals_3, decimals_5, log_edge, edge_slope, edge_grows,
            edge_linear, norm_process,
            moment2_process, moment3_process, fc_process, largest_singular_value, condition_number),
    summary="E||A x||^2 = ||x||^2 for products of Gaussian matrices (N = 3; k = 3, N = 2); exact finite-N trace"
            " moments (n = 2, 3) for symbolic k and N, the one-matrix step by the Wick pairing count (anchored by"
            " expectation at N = 2, 3) and induction; their Fuss-Catalan limits and the N -> oo edge (k+1)^(k+1)/k^k"
            " (k = 1..5 and symbolic k), the printed 2, 3.079, 3.864; s_max -> sqrt(edge) cited (norm convergence),"
            " not proven;"
            " simulated products test the moments and measure s_max and the condition number.",
)
