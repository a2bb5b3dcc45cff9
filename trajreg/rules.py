"""Decision rules: each turns an estimate (a value with its 95 % interval) into a verdict word.

A rule is fixed in the claim registry (``trajreg.paper``) before any run, from what the claim
means: a direction on a paired difference (:class:`Below`, :class:`Above`), a band around the
paper's number (:class:`Within`), a one-sided claim (:class:`OneSided`), a direction with the size
of the paper's effect (:class:`DirectionAndSize`), or no test at all (:class:`Illustration`).
"""

from __future__ import annotations

from dataclasses import dataclass

from trajreg.stats import Estimate

__all__ = ["Below", "Above", "Within", "DirectionAndSize", "OneSided", "Illustration", "Rule"]




def _g(x: float) -> str:
    return format(x, ".3g")


@dataclass(frozen=True)
class Below:
    """Reproduces when the whole interval lies below ``threshold``."""

    threshold: float = 0.0

    def describe(self) -> str:
        return f"95 % interval below {_g(self.threshold)}"

    def decide(self, est: Estimate) -> str:
        if est.hi < self.threshold:
            return "reproduces"
        return "does not reproduce" if est.lo > self.threshold else "inconclusive"


@dataclass(frozen=True)
class Above:
    """Reproduces when the whole interval lies above ``threshold``."""

    threshold: float = 0.0

    def describe(self) -> str:
        return f"95 % interval above {_g(self.threshold)}"

    def decide(self, est: Estimate) -> str:
        if est.lo > self.threshold:
            return "reproduces"
        return "does not reproduce" if est.hi < self.threshold else "inconclusive"


@dataclass(frozen=True)
class Within:
    """Reproduces when the interval lies in [target/factor, target*factor]; entirely outside:
    does not. ``complement``: compare 1 - x with 1 - target (for shares bounded by 1)."""

    target: float
    factor: float
    complement: bool = False

    def __post_init__(self):
        if not self.factor > 1:
            raise ValueError(f"factor must be > 1, got {self.factor}")
        if not self._t() > 0:
            raise ValueError(f"target{' complement' if self.complement else ''} must be > 0, got {self._t()}")

    def _t(self) -> float:
        return 1 - self.target if self.complement else self.target

    def band(self) -> tuple[float, float]:
        return self._t() / self.factor, self._t() * self.factor

    def describe(self) -> str:
        lo, hi = self.band()
        what = f"1 - x, paper 1 - {_g(self.target)} = {_g(self._t())}" if self.complement else \
            f"x, paper {_g(self.target)}"
        return f"95 % interval of {what}, within a factor {_g(self.factor)}: [{_g(lo)}, {_g(hi)}]"

    def decide(self, est: Estimate) -> str:
        lo, hi = (1 - est.hi, 1 - est.lo) if self.complement else (est.lo, est.hi)
        b_lo, b_hi = self.band()
        if b_lo <= lo and hi <= b_hi:
            return "reproduces"
        return "does not reproduce" if hi < b_lo or lo > b_hi else "inconclusive"


@dataclass(frozen=True)
class DirectionAndSize:
    """Direction: the interval of x - ref lies on the side ``sign``; size: it lies within a factor
    ``factor`` of the paper's effect target - ref. Direction only: "stronger than the paper" beyond
    the band, "weaker than the paper" short of it."""

    sign: int
    target: float
    factor: float
    ref: float = 0.0

    def __post_init__(self):
        if self.sign not in (-1, 1):
            raise ValueError(f"sign must be -1 or 1, got {self.sign}")
        if not self.factor > 1:
            raise ValueError(f"factor must be > 1, got {self.factor}")
        if not self.sign * (self.target - self.ref) > 0:
            raise ValueError(f"target {self.target} must lie on the side {self.sign} of ref {self.ref}")

    def band(self) -> tuple[float, float]:
        """The accepted range of x."""
        e = abs(self.target - self.ref)
        a, b = self.ref + self.sign * e / self.factor, self.ref + self.sign * e * self.factor
        return min(a, b), max(a, b)

    def describe(self) -> str:
        side = "below" if self.sign < 0 else "above"
        lo, hi = self.band()
        return (f"95 % interval {side} {_g(self.ref)}; and within [{_g(lo)}, {_g(hi)}] (the paper's "
                f"effect {_g(self.target - self.ref)} within a factor {_g(self.factor)})")

    def decide(self, est: Estimate) -> str:
        lo, hi = self.sign * (est.lo - self.ref), self.sign * (est.hi - self.ref)
        lo, hi = min(lo, hi), max(lo, hi)
        if lo <= 0:
            return "does not reproduce" if hi < 0 else "inconclusive"
        b_lo, b_hi = self.band()
        if b_lo <= est.lo and est.hi <= b_hi:
            return "reproduces"
        e = abs(self.target - self.ref)
        return "stronger than the paper" if lo > e else "weaker than the paper"


@dataclass(frozen=True)
class OneSided:
    """A one-sided claim ("at least about target"): reproduces when the interval lies on the claim's
    side of the band edge (target within a factor ``factor``), "stronger than the paper" when it
    lies beyond the paper's number itself, "does not reproduce" when it lies on the other side.
    ``sign`` +1: larger is the claim's side; ``complement``: compare 1 - x with 1 - target (shares
    bounded by 1; then sign refers to x)."""

    target: float
    factor: float
    sign: int = 1
    complement: bool = False

    def __post_init__(self):
        if self.sign not in (-1, 1):
            raise ValueError(f"sign must be -1 or 1, got {self.sign}")
        if not self.factor > 1:
            raise ValueError(f"factor must be > 1, got {self.factor}")
        if not (1 - self.target if self.complement else self.target) > 0:
            raise ValueError(f"target must leave a positive {'complement' if self.complement else 'value'}")

    def edge(self) -> float:
        """The band edge on x: the weakest value that still reproduces."""
        t = 1 - self.target if self.complement else self.target
        # on x's side: larger x is stronger when sign = +1, i.e. a smaller complement
        weak = t * self.factor if (self.sign > 0) == self.complement else t / self.factor
        return 1 - weak if self.complement else weak

    def describe(self) -> str:
        side = "above" if self.sign > 0 else "below"
        return (f"95 % interval {side} {_g(self.edge())} (the paper's {_g(self.target)} within a factor "
                f"{_g(self.factor)}{' on 1 - x' if self.complement else ''}; one-sided)")

    def decide(self, est: Estimate) -> str:
        lo, hi = self.sign * est.lo, self.sign * est.hi
        edge, paper = self.sign * self.edge(), self.sign * self.target
        if lo > paper:
            return "stronger than the paper"
        if lo >= edge:
            return "reproduces"
        return "does not reproduce" if hi < edge else "inconclusive"


@dataclass(frozen=True)
class Illustration:
    """A picture or an identity: no test, not counted."""

    def describe(self) -> str:
        return "illustration (no test)"

    def decide(self, est: Estimate | None = None) -> str:
        return "illustration"


Rule = Below | Above | Within | DirectionAndSize | OneSided | Illustration
