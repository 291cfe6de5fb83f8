"""The report's statistics against scipy and statsmodels on known data."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from kapstone.outcomes import statistics
from kapstone.outcomes.statistics import (
    age_band,
    age_in_years,
    mean_with_ci,
    mixed_trajectory,
    paired_comparison,
    per_100_sessions,
    random_intercept_reml,
    wilson_rate,
)

BASELINE = [20, 17, 22, 15, 19, 12, 18, 21]
END = [8, 12, 4, 15, 9, 13, 10, 11]


def test_the_mean_ci_is_scipys_t_interval():
    estimate = mean_with_ci(BASELINE)
    low, high = stats.t.interval(0.95, len(BASELINE) - 1, loc=np.mean(BASELINE), scale=stats.sem(BASELINE))
    assert estimate.n == 8
    assert estimate.mean == pytest.approx(np.mean(BASELINE))
    assert estimate.sd == pytest.approx(np.std(BASELINE, ddof=1))
    assert (estimate.low, estimate.high) == pytest.approx((low, high))


def test_a_mean_drops_missing_values_and_says_how_many_it_used():
    estimate = mean_with_ci([1.0, float("nan"), 3.0])
    assert estimate.n == 2 and estimate.mean == 2
    assert mean_with_ci([]).mean is None
    single = mean_with_ci([5])
    assert single.mean == 5 and single.low is None


def test_the_paired_test_is_scipys_ttest_rel_with_both_effect_sizes():
    result = paired_comparison(BASELINE, END)
    expected = stats.ttest_rel(END, BASELINE)
    differences = np.subtract(END, BASELINE)
    assert result.n == 8
    assert result.t == pytest.approx(expected.statistic)
    assert result.p == pytest.approx(expected.pvalue)
    assert result.cohens_d_z == pytest.approx(differences.mean() / differences.std(ddof=1))
    mean_sd = (np.std(BASELINE, ddof=1) + np.std(END, ddof=1)) / 2
    assert result.cohens_d_av == pytest.approx(differences.mean() / mean_sd)
    # t = d_z * sqrt(n): the identity that ties d_z to the paired test.
    assert result.t == pytest.approx(result.cohens_d_z * math.sqrt(8))
    assert result.difference.mean == pytest.approx(differences.mean())


def test_a_pair_with_a_missing_value_is_left_out_of_the_paired_test():
    result = paired_comparison([10, 12, 14, 9], [5, float("nan"), 8, 4])
    assert result.n == 3
    assert result.t == pytest.approx(stats.ttest_rel([5, 8, 4], [10, 14, 9]).statistic)


def test_a_paired_test_on_too_little_data_returns_no_numbers_rather_than_failing():
    assert paired_comparison([], []).t is None
    assert paired_comparison([10], [5]).p is None
    constant = paired_comparison([10, 12], [8, 10])  # every change is -2: no spread, no t
    assert constant.t is None and constant.cohens_d_z is None and constant.cohens_d_av is not None


@pytest.mark.parametrize(("count", "n"), [(0, 10), (3, 10), (10, 10), (42, 199), (1, 3)])
def test_rates_carry_statsmodels_wilson_interval(count, n):
    rate = wilson_rate(count, n)
    low, high = proportion_confint(count, n, alpha=0.05, method="wilson")
    assert rate.proportion == pytest.approx(count / n)
    assert (rate.low, rate.high) == pytest.approx((low, high), abs=1e-12)


def test_events_per_100_sessions_have_an_exact_poisson_interval():
    none = per_100_sessions(0, 100)
    # Zero events in 100 sessions: the exact upper 97.5% bound is -ln(0.025) = 3.689 events.
    assert none.per_100 == 0 and none.low == 0
    assert none.high == pytest.approx(-math.log(0.025))
    some = per_100_sessions(5, 250)
    assert some.per_100 == pytest.approx(2.0)
    assert some.low == pytest.approx(stats.chi2.ppf(0.025, 10) / 2 * 100 / 250)
    assert some.high == pytest.approx(stats.chi2.ppf(0.975, 12) / 2 * 100 / 250)
    assert per_100_sessions(0, 0).per_100 is None


def _trajectory_data(patients: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sessions = 4
    frame = pd.DataFrame(
        {
            "patient": np.repeat(np.arange(patients), sessions),
            "session": np.tile(np.arange(sessions), patients).astype(float),
        }
    )
    frame["score"] = (
        17 - 1.5 * frame["session"] + np.repeat(rng.normal(0, 3, patients), sessions) + rng.normal(0, 2.5, len(frame))
    )
    return frame[rng.random(len(frame)) > 0.15]  # some questionnaires missing


def test_the_trajectory_is_statsmodels_mixedlm_with_a_random_intercept():
    data = _trajectory_data(120)
    trajectory = mixed_trajectory(data)
    fitted = smf.mixedlm("score ~ session", data, groups=data["patient"]).fit(reml=True)
    assert trajectory.fitted_with == "statsmodels MixedLM"
    assert trajectory.observations == len(data) and trajectory.patients == 120
    assert trajectory.slope == pytest.approx(fitted.fe_params["session"])
    assert trajectory.intercept == pytest.approx(fitted.fe_params["Intercept"])
    assert trajectory.slope_p == pytest.approx(fitted.pvalues["session"])
    assert trajectory.converged


def test_the_same_numbers_are_fitted_once_whatever_the_patients_ids_and_other_numbers_are_fitted_again(monkeypatch):
    data = _trajectory_data(40, seed=7)
    fits = []
    real_fit = statistics._statsmodels_trajectory
    monkeypatch.setattr(statistics, "_kept_fits", statistics.OrderedDict())
    monkeypatch.setattr(statistics, "_statsmodels_trajectory", lambda *args: fits.append(args) or real_fit(*args))
    first = mixed_trajectory(data)
    # The same rows with the patients renumbered in the same order (another database's ids) reuse the fit.
    assert mixed_trajectory(data.assign(patient=data["patient"] * 10 + 5)) == first
    assert len(fits) == 1
    # Kept one fit at most: a fit of other numbers is made, and the first fit is dropped to keep it.
    monkeypatch.setattr(statistics, "FITS_KEPT", 1)
    changed = data.copy()
    changed.iloc[0, changed.columns.get_loc("score")] += 1
    assert mixed_trajectory(changed) != first
    assert len(fits) == 2 and len(statistics._kept_fits) == 1
    assert mixed_trajectory(data) == first
    assert len(fits) == 3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_vectorised_reml_fit_agrees_with_statsmodels_mixedlm(seed):
    data = _trajectory_data(300, seed)
    fitted = smf.mixedlm("score ~ session", data, groups=data["patient"]).fit(reml=True)
    mine = random_intercept_reml(data["patient"].to_numpy(), data["session"].to_numpy(), data["score"].to_numpy())
    assert mine.intercept == pytest.approx(fitted.fe_params["Intercept"], rel=1e-5)
    assert mine.slope == pytest.approx(fitted.fe_params["session"], rel=1e-5)
    assert mine.slope_se == pytest.approx(fitted.bse_fe["session"], rel=1e-3)
    assert mine.patient_variance == pytest.approx(fitted.cov_re.iloc[0, 0], rel=1e-3)
    assert mine.residual_variance == pytest.approx(fitted.scale, rel=1e-3)


def test_a_large_practice_uses_the_vectorised_fit_and_says_so():
    trajectory = mixed_trajectory(_trajectory_data(2500))
    assert trajectory.fitted_with.startswith("vectorised REML")
    assert trajectory.slope == pytest.approx(-1.5, abs=0.1)
    assert trajectory.slope_low < trajectory.slope < trajectory.slope_high


def test_the_trajectory_says_when_there_is_too_little_to_fit():
    tiny = pd.DataFrame({"patient": [1, 1, 2], "session": [0, 1, 0], "score": [10, 8, 12]})
    result = mixed_trajectory(tiny)
    assert result.slope is None and "too few" in result.note
    assert result.observations == 3


def test_age_counts_a_birthday_only_once_it_has_come():
    born = np.array(["1980-05-17", "1980-05-17", "1980-05-17"], dtype="datetime64[D]")
    on = np.array(["2020-05-16", "2020-05-17", "2021-01-01"], dtype="datetime64[D]")
    assert list(age_in_years(born, on)) == [39, 40, 40]


@given(st.integers(min_value=0, max_value=120))
def test_every_age_falls_in_exactly_one_band(age):
    band = age_band(age)
    assert band
    assert age_band(None) == "not recorded"
    if age >= 65:
        assert band == "65+"


def test_age_bands_have_their_edges_where_the_report_says():
    assert [age_band(a) for a in (17, 18, 29, 30, 64, 65)] == ["under 18", "18-29", "18-29", "30-39", "50-64", "65+"]


def test_the_paired_figures_match_a_hand_computation():
    """Baseline 10, 20, 30 and end 5, 10, 15: changes -5, -10, -15 (mean -10, SD 5); SDs 10 and 5 (mean 7.5). So
    d_z = -10 / 5 = -2, d_av = -10 / 7.5, t = d_z * sqrt(3), and with 2 degrees of freedom the t distribution's CDF is
    1/2 + t / (2 sqrt(t^2 + 2)), so p = 1 + t / sqrt(t^2 + 2) = 1 - sqrt(12 / 14); the 95% CI of the change is
    -10 +- 4.302653 * 5 / sqrt(3) (t quantile 0.975 with 2 degrees of freedom, from tables)."""
    result = paired_comparison([10, 20, 30], [5, 10, 15])
    assert result.difference.mean == -10 and result.difference.sd == pytest.approx(5)
    assert result.cohens_d_z == pytest.approx(-2)
    assert result.cohens_d_av == pytest.approx(-4 / 3)
    assert result.t == pytest.approx(-2 * math.sqrt(3))
    assert result.p == pytest.approx(1 - math.sqrt(12 / 14))
    half_width = 4.302653 * 5 / math.sqrt(3)
    assert (result.difference.low, result.difference.high) == (
        pytest.approx(-10 - half_width, abs=1e-5),
        pytest.approx(-10 + half_width, abs=1e-5),
    )
    assert (result.baseline.mean, result.baseline.sd, result.end.sd) == (20, pytest.approx(10), pytest.approx(5))
