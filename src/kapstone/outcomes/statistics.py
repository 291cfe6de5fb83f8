"""The statistics of the outcomes report, as pure functions of numbers (no Django, no database).

Choices, stated once:
- Confidence intervals of a mean use Student's t with n - 1 degrees of freedom.
- The paired test is Student's paired t-test (scipy.stats.ttest_rel), two-sided.
- Two effect sizes are reported for a baseline-to-end change, both with the sign of (end - baseline), so a
  fall in symptoms is negative:
  * Cohen's d_av = mean difference / mean of the two SDs (Lakens 2013, Front Psychol 4:863, eq. 10). This is
    the "Cohen's d" of the report: it is on the scale of the scores' own spread, so it can be set beside
    published between-group effects.
  * Cohen's d_z = mean difference / SD of the differences (Cohen 1988); t = d_z * sqrt(n). It depends on how
    strongly baseline and end correlate, so it is shown too but labelled as d_z.
- Rates carry Wilson score intervals (better than the normal approximation for small n or rates near 0 or 1).
- Events per 100 sessions carry exact Poisson (Garwood) intervals.
- Trajectories: a linear mixed-effects model, score ~ session number with a random intercept per patient,
  fitted by REML: statsmodels MixedLM up to STATSMODELS_MAX_PATIENTS patients, the same model fitted by
  random_intercept_reml above (why: see STATSMODELS_MAX_PATIENTS).
"""

from __future__ import annotations

import hashlib
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class MeanEstimate:
    n: int
    mean: float | None
    sd: float | None
    low: float | None
    high: float | None


def _clean(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[~np.isnan(array)]


def mean_with_ci(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> MeanEstimate:
    """Mean, SD and a t-based confidence interval; missing values (NaN) are dropped and not counted."""
    data = _clean(values)
    n = len(data)
    if n == 0:
        return MeanEstimate(0, None, None, None, None)
    mean = float(data.mean())
    if n == 1:
        return MeanEstimate(1, mean, None, None, None)
    sd = float(data.std(ddof=1))
    half_width = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return MeanEstimate(n, mean, sd, mean - half_width, mean + half_width)


@dataclass(frozen=True)
class PairedComparison:
    n: int
    baseline: MeanEstimate
    end: MeanEstimate
    difference: MeanEstimate  # end - baseline
    t: float | None
    p: float | None
    cohens_d_av: float | None
    cohens_d_z: float | None


def paired_comparison(baseline: Sequence[float], end: Sequence[float]) -> PairedComparison:
    """Baseline against end for the patients who have both; a pair with either value missing is dropped."""
    first = np.asarray(baseline, dtype=float)
    second = np.asarray(end, dtype=float)
    if first.shape != second.shape:
        raise ValueError("Baseline and end must be paired: the same number of values.")
    both = ~(np.isnan(first) | np.isnan(second))
    first, second = first[both], second[both]
    difference = second - first
    n = len(difference)
    t = p = d_av = d_z = None
    if n >= 2:
        sd_diff = float(difference.std(ddof=1))
        mean_sd = (float(first.std(ddof=1)) + float(second.std(ddof=1))) / 2
        mean_diff = float(difference.mean())
        if sd_diff > 0:
            result = stats.ttest_rel(second, first)
            t, p = float(result.statistic), float(result.pvalue)
            d_z = mean_diff / sd_diff
        if mean_sd > 0:
            d_av = mean_diff / mean_sd
    return PairedComparison(
        n=n,
        baseline=mean_with_ci(first),
        end=mean_with_ci(second),
        difference=mean_with_ci(difference),
        t=t,
        p=p,
        cohens_d_av=d_av,
        cohens_d_z=d_z,
    )


@dataclass(frozen=True)
class Rate:
    count: int
    n: int
    proportion: float | None
    low: float | None
    high: float | None

    @property
    def percent(self) -> float | None:
        return None if self.proportion is None else 100 * self.proportion


def wilson_rate(count: int, n: int, confidence: float = CONFIDENCE) -> Rate:
    if n == 0:
        return Rate(count, 0, None, None, None)
    if not 0 <= count <= n:
        raise ValueError(f"A count of {count} out of {n} is not a proportion.")
    z = float(stats.norm.ppf((1 + confidence) / 2))
    proportion = count / n
    denominator = 1 + z**2 / n
    centre = (proportion + z**2 / (2 * n)) / denominator
    half_width = z * math.sqrt(proportion * (1 - proportion) / n + z**2 / (4 * n**2)) / denominator
    return Rate(count, n, proportion, max(0.0, centre - half_width), min(1.0, centre + half_width))


@dataclass(frozen=True)
class EventRate:
    events: int
    sessions: int
    per_100: float | None
    low: float | None
    high: float | None


def per_100_sessions(events: int, sessions: int, confidence: float = CONFIDENCE) -> EventRate:
    """Events per 100 sessions with an exact Poisson interval (chi-squared form of Garwood 1936)."""
    if sessions == 0:
        return EventRate(events, 0, None, None, None)
    alpha = 1 - confidence
    low = 0.0 if events == 0 else float(stats.chi2.ppf(alpha / 2, 2 * events)) / 2
    high = float(stats.chi2.ppf(1 - alpha / 2, 2 * events + 2)) / 2
    scale = 100 / sessions
    return EventRate(events, sessions, events * scale, low * scale, high * scale)


@dataclass(frozen=True)
class Trajectory:
    patients: int
    observations: int
    intercept: float | None
    slope: float | None  # change in score per session
    slope_low: float | None
    slope_high: float | None
    slope_p: float | None
    patient_variance: float | None
    residual_variance: float | None
    converged: bool
    fitted_with: str = ""
    note: str = ""

    @classmethod
    def not_fitted(cls, patients: int, observations: int, *, note: str) -> Trajectory:
        """No model: the counts, every estimate None, and why."""
        return cls(patients, observations, None, None, None, None, None, None, None, converged=False, note=note)


MIN_PATIENTS_FOR_MODEL = 3
# statsmodels' MixedLM loops over patients in Python in every likelihood, gradient and Hessian evaluation
# (each ~0.7-1 s at 10,000 patients). Measured on a 10,000-patient frame shaped like the report's (21,500
# questionnaires: baseline and end for all, pre-dosing points for 500), 2 shared cores: MixedLM's default
# fit 6.2 s CPU (8-18 s wall), method="lbfgs" 3.8 s CPU (4-11 s wall), and lbfgs with maxiter=5 no faster;
# random_intercept_reml 0.01 s with the same slope and variances. Its cost grows with the patients: 0.2 s CPU
# per questionnaire at 100-200 patients, 0.85 s at 1,000, 1.9 s at 2,000 (against 3 ms), and the report fits one
# model per questionnaire, seven on the bench practice, within a 5 s budget. So above this size the same model is
# fitted by random_intercept_reml (checked against MixedLM in the tests), and the methods text says which fit was used.
STATSMODELS_MAX_PATIENTS = 200


def mixed_trajectory(frame: pd.DataFrame) -> Trajectory:
    """score ~ session with a random intercept per patient (REML). `frame` has columns patient, session, score.

    Patients with a single observation still inform the fixed effects; the model needs at least three
    patients and two distinct session numbers.
    """
    data = frame.dropna(subset=["patient", "session", "score"])
    patients = int(data["patient"].nunique())
    observations = len(data)
    if patients < MIN_PATIENTS_FOR_MODEL or data["session"].nunique() < 2:
        return Trajectory.not_fitted(patients, observations, note="too few patients or sessions for the model")
    if patients <= STATSMODELS_MAX_PATIENTS:
        return _kept_statsmodels_trajectory(data, patients, observations)
    fit = random_intercept_reml(
        data["patient"].to_numpy(), data["session"].to_numpy(dtype=float), data["score"].to_numpy(dtype=float)
    )
    return Trajectory(
        patients=patients,
        observations=observations,
        intercept=fit.intercept,
        slope=fit.slope,
        slope_low=fit.slope - fit.z * fit.slope_se,
        slope_high=fit.slope + fit.z * fit.slope_se,
        slope_p=fit.slope_p,
        patient_variance=fit.patient_variance,
        residual_variance=fit.residual_variance,
        converged=fit.converged,
        fitted_with="vectorised REML (random intercept), checked against statsmodels MixedLM",
        note="" if fit.converged else "the optimiser did not converge; read the estimates with care",
    )


# A model fitted to the same numbers gives the same estimates, so the fits of the last reports are kept: a report
# rebuilt after a change to one questionnaire (or for another reader or filter with the same cohort) refits only the
# questionnaires whose numbers changed. Keyed by the numbers alone, with the patients numbered in the order of their
# ids, since MixedLM reads the ids only to group the rows. Bounded, so a process keeps at most this many.
FITS_KEPT = 512
_kept_fits: OrderedDict[bytes, Trajectory] = OrderedDict()
_kept_fits_lock = threading.Lock()


def _fit_key(data: pd.DataFrame) -> bytes:
    _, patient_numbers = np.unique(data["patient"].to_numpy(), return_inverse=True)
    digest = hashlib.sha256()
    for column in (
        patient_numbers.astype(np.int64),
        data["session"].to_numpy(dtype=float),
        data["score"].to_numpy(dtype=float),
    ):
        digest.update(np.ascontiguousarray(column).tobytes())
    return digest.digest()


def _kept_statsmodels_trajectory(data: pd.DataFrame, patients: int, observations: int) -> Trajectory:
    key = _fit_key(data)
    with _kept_fits_lock:
        kept = _kept_fits.get(key)
        if kept is not None:
            _kept_fits.move_to_end(key)
            return kept
    trajectory = _statsmodels_trajectory(data, patients, observations)
    with _kept_fits_lock:
        _kept_fits[key] = trajectory
        while len(_kept_fits) > FITS_KEPT:
            _kept_fits.popitem(last=False)
    return trajectory


def _statsmodels_trajectory(data: pd.DataFrame, patients: int, observations: int) -> Trajectory:
    # deferred: heavy library (statsmodels), imported only when this runs
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    data = data.astype({"score": float, "session": float})
    model = smf.mixedlm("score ~ session", data, groups=data["patient"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fitted = model.fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as error:
            return Trajectory.not_fitted(patients, observations, note=f"the model could not be fitted: {error}")
    converged = bool(fitted.converged) and not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    low, high = fitted.conf_int(alpha=1 - CONFIDENCE).loc["session"]
    return Trajectory(
        patients=patients,
        observations=observations,
        intercept=float(fitted.fe_params["Intercept"]),
        slope=float(fitted.fe_params["session"]),
        slope_low=float(low),
        slope_high=float(high),
        slope_p=float(fitted.pvalues["session"]),
        patient_variance=float(fitted.cov_re.iloc[0, 0]),
        residual_variance=float(fitted.scale),
        converged=converged,
        fitted_with="statsmodels MixedLM",
        note="" if converged else "the optimiser reported a convergence problem; read the estimates with care",
    )


@dataclass(frozen=True)
class RandomInterceptFit:
    intercept: float
    slope: float
    slope_se: float
    slope_p: float
    patient_variance: float
    residual_variance: float
    converged: bool
    z: float = float(stats.norm.ppf((1 + CONFIDENCE) / 2))


def random_intercept_reml(groups: np.ndarray, x: np.ndarray, y: np.ndarray) -> RandomInterceptFit:
    """REML fit of y = b0 + b1 x + u_group + e, u ~ N(0, tau2), e ~ N(0, sigma2), with group sums only.

    With lambda = tau2 / sigma2, each group's covariance is sigma2 (I + lambda J), whose inverse is
    (I - w J) / sigma2 with w = lambda / (1 + n lambda); so every GLS term is a sum over observations minus a
    weighted sum over groups of products of group totals. sigma2 is profiled out, and the REML criterion
    -((N - p) log(Q / (N - p)) + sum log(1 + n lambda) + log det(X'V^-1 X)) / 2 is maximised over lambda alone.
    Standard errors and p-values use the normal distribution, as statsmodels MixedLM does.
    """
    _, group_index = np.unique(groups, return_inverse=True)
    design = np.column_stack([np.ones_like(x), x])
    observations, parameters = design.shape
    sizes = np.bincount(group_index).astype(float)
    design_totals = np.column_stack([np.bincount(group_index, weights=column) for column in design.T])
    y_totals = np.bincount(group_index, weights=y)
    xtx, xty, yty = design.T @ design, design.T @ y, float(y @ y)

    def solve(lam: float):
        w = lam / (1 + sizes * lam)
        a = xtx - design_totals.T @ (design_totals * w[:, None])
        b = xty - design_totals.T @ (w * y_totals)
        beta = np.linalg.solve(a, b)
        residual_totals = y_totals - design_totals @ beta
        quadratic = yty - 2 * beta @ xty + beta @ xtx @ beta - float(w @ residual_totals**2)
        return beta, a, quadratic, w

    def negative_reml(fraction: float) -> float:
        lam = fraction / (1 - fraction)
        _, a, quadratic, _ = solve(lam)
        dof = observations - parameters
        return 0.5 * (dof * np.log(quadratic / dof) + np.log1p(sizes * lam).sum() + np.linalg.slogdet(a)[1])

    # deferred: heavy library (SciPy), imported only when this runs
    from scipy.optimize import minimize_scalar

    # lambda = f / (1 - f) maps the bounded search over f in [0, 1) onto every lambda >= 0.
    best = minimize_scalar(negative_reml, bounds=(0.0, 1 - 1e-9), method="bounded", options={"xatol": 1e-10})
    lam = best.x / (1 - best.x)
    beta, a, quadratic, _ = solve(lam)
    sigma2 = quadratic / (observations - parameters)
    covariance = sigma2 * np.linalg.inv(a)
    slope_se = float(np.sqrt(covariance[1, 1]))
    slope_p = float(2 * stats.norm.sf(abs(beta[1]) / slope_se))
    return RandomInterceptFit(
        intercept=float(beta[0]),
        slope=float(beta[1]),
        slope_se=slope_se,
        slope_p=slope_p,
        patient_variance=float(lam * sigma2),
        residual_variance=float(sigma2),
        converged=bool(best.success),
    )


def age_in_years(born: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Whole years between two arrays of numpy datetime64[D] dates (birthdays counted on the day)."""
    birth, day = pd.DatetimeIndex(born), pd.DatetimeIndex(on)
    years = day.year - birth.year
    before_birthday = (day.month < birth.month) | ((day.month == birth.month) & (day.day < birth.day))
    return np.asarray(years - before_birthday.astype(int), dtype=float)


AGE_BANDS = ((18, 29), (30, 39), (40, 49), (50, 64), (65, None))


def age_band(age: float | None) -> str:
    """Report age bands; 65 and over is its own band ([spravato-pi] 8.5: a lower starting dose from 65)."""
    if age is None or (isinstance(age, float) and math.isnan(age)):
        return "not recorded"
    if age < AGE_BANDS[0][0]:
        return f"under {AGE_BANDS[0][0]}"
    for low, high in AGE_BANDS:
        if high is None or age <= high:
            return f"{low}-{high}" if high is not None else f"{low}+"
    raise AssertionError("unreachable: the last band is open-ended")
