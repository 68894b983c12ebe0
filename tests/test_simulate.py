"""Tests of the simulated KVK register (kvk_analysis.simulate) and `kvk data demo|calibration`."""

from __future__ import annotations

import functools
import hashlib
import warnings

import numpy as np
import pandas as pd
import pytest

from kvk_analysis import cohorts, config, simulate_cli
from kvk_analysis import panel as panel_mod
from kvk_analysis.cli import main
from kvk_analysis.did import aggte, att_gt
from kvk_analysis.errors import InputError
from kvk_analysis.fileio import sha256
from kvk_analysis.readers import ks
from kvk_analysis.simulate import (
    DEFAULT_SEED,
    FILES,
    KS_COLUMNS,
    SCENARIOS,
    SimulationConfig,
    effect_multiplier,
    format_number,
    national_comparison,
    participants_table,
    scenario,
    simulate,
    simulate_employee_level,
    write_demo,
)
from kvk_analysis.simulate.output import cohort_counts, extract_text

SECTOR_NAMES = {"Pleie og omsorg": "care", "Oppvekst": "education", "Annet": "other"}


@functools.cache
def _run(name: str, noise: bool = True):
    """One simulation per scenario for the whole module (each takes about a second)."""
    return simulate(scenario(name, noise=noise))


@pytest.fixture(scope="module")
def default():
    return _run("default")


@pytest.fixture(scope="module")
def noise_free():
    return _run("default", noise=False)


@pytest.fixture(scope="module")
def no_effect():
    return _run("no_effect")


def _read_extract(path) -> pd.DataFrame:
    """Independent parse of the KS extract (not the project's reader), harmonised to 2008."""
    df = pd.read_csv(
        path, sep=";", decimal=",", thousands=" ", dtype={"Kommunenr": str}, encoding="utf-8"
    )
    df["lost"] = df["Tapte dagsverk egenmeldt"] + df["Tapte dagsverk legemeldt"]
    df["unit"] = df["Kommunenr"].replace({"1503": "1505", "1556": "1505"})
    df["sector"] = df["Sektor"].map(SECTOR_NAMES)
    df["period"] = pd.PeriodIndex(df["Kvartal"].str.replace("K", "Q"), freq="Q")
    return df


def _unit_rates(df: pd.DataFrame) -> pd.DataFrame:
    """Rate (percent, ratio of sums) per sector (``all`` included) x unit x quarter, wide."""
    keys = ["unit", "period"]
    sec = df.groupby([*keys, "sector"])[["lost", "Avtalte dagsverk"]].sum()
    alls = df.groupby(keys)[["lost", "Avtalte dagsverk"]].sum().assign(sector="all")
    alls = alls.set_index("sector", append=True)
    both = pd.concat([sec, alls])
    rate = (both["lost"] / both["Avtalte dagsverk"] * 100).rename("y").reset_index()
    return rate.pivot_table(index=["sector", "unit"], columns="period", values="y")


# --- calibration -------------------------------------------------------------------------------


def test_expected_national_path_equals_target_by_construction(noise_free):
    nat = national_comparison(noise_free)
    # the baseline N_t is solved so the days-weighted expected Y0 equals the target exactly
    assert np.allclose(nat["expected_y0"], nat["target"], atol=1e-9)
    # the target is 1.4 x SSB plus a seasonal term that sums to zero over a year
    yearly = nat.assign(year=nat["period"].dt.year).groupby("year")[["target", "ssb_scaled"]].mean()
    assert np.allclose(yearly["target"], yearly["ssb_scaled"], atol=1e-9)
    q3 = nat[nat["period"].dt.quarter == 3]
    assert ((q3["target"] - q3["ssb_scaled"]) < -0.3).all()  # the deeper municipal Q3 trough
    # 2009 influenza: the 2009 mean is above 2008 by about 1.4 x 0.45 pp
    assert 0.4 < yearly.loc[2009, "target"] - yearly.loc[2008, "target"] < 0.8


def test_simulated_national_path_tracks_target(no_effect, default):
    # Tolerance 0.2 pp per quarter: the national aggregate's noise comes from the AR(1)
    # municipality shocks (sd 0.25 pp) averaged over 430 units with very unequal weights (Oslo
    # alone has ~12 % of the days: effective number of units ~40, sd ~0.05 pp) plus negligible
    # count noise; 0.2 pp is ~4 sd, and small against the seasonal swing (~2 pp) the target has.
    nat = national_comparison(no_effect)
    assert nat["deviation"].abs().max() < 0.2
    assert abs(nat["deviation"].mean()) < 0.05  # no systematic bias
    # with the planted effect the simulated path is the target plus the days-weighted effect
    nat_d = national_comparison(default)
    assert nat_d["deviation_from_expected"].abs().max() < 0.2
    effect = nat_d["expected"] - nat_d["target"]
    assert effect.max() <= 1e-9 and effect.min() < -0.1


def test_participants_gap_like_ks(default):
    tab = participants_table(default)
    diff = tab.loc["difference"]
    # the selection is calibrated to an expected gap of 0.7 pp in 2008Q4 (KS: 10.4 vs 9.7 %)
    assert abs(default.diagnostics["expected_gap_pp"] - 0.7) < 0.05
    # the realised gap adds noise (sd ~0.08 pp: participants' rate is dominated by a few large
    # units with AR(1) shocks of sd 0.25 pp); 0.25 pp is ~3 sd
    assert abs(diff["rate_2008Q4"] - 0.7) < 0.25
    # before the programme the gap is larger (in 2008Q4 the planted effect already acts)
    assert diff["pre_2006"] > diff["rate_2008Q4"] > 0
    # levels in the KS range (9.7-10.4 %) within 0.5 pp
    assert 9.2 < tab.loc["others", "rate_2008Q4"] < tab.loc["participants", "rate_2008Q4"] < 10.9
    # participants are larger
    units = default.units
    assert (
        units.loc[units["participant"], "population_2008"].median()
        > 1.5 * units.loc[~units["participant"], "population_2008"].median()
    )


# --- cohorts -----------------------------------------------------------------------------------


def test_cohort_sizes_and_documented_rows(default):
    reg = default.registry
    assert len(reg) == 145 and reg["kommunenr"].is_unique
    assert reg["pulje"].value_counts().to_dict() == {"I": 41, "II": 49, "III": 34, "IV": 21}
    n_left = int((reg["left"] != "").sum())
    assert n_left == 7 and len(reg) - n_left == 138
    sizes, counted_left = cohort_counts(reg)
    assert sizes.to_dict() == {"I": 41, "II": 49, "III": 34, "IV": 21} and counted_left == 7
    doc = pd.read_csv(
        config.COHORTS_DIR / "kvk_participants_documented.csv", dtype=str, keep_default_na=False
    )
    merged = doc.merge(reg, on="kommunenr", suffixes=("_doc", ""))
    assert len(merged) == len(doc) == 33
    assert (merged["membership_source"] == "documented").all()
    known = merged[merged["pulje_doc"] != ""]
    assert (known["pulje"] == known["pulje_doc"]).all() and (
        known["pulje_source"] == "documented"
    ).all()
    order = ["I", "II", "III", "IV"]
    for _, row in merged[merged["pulje_doc"] == ""].iterrows():
        assert row["pulje_source"] == "simulated"
        if row["pulje_known_range"]:
            lo, hi = row["pulje_known_range"].split("-")
            assert order.index(lo) <= order.index(row["pulje"]) <= order.index(hi)
    assert (
        reg.loc[~reg["kommunenr"].isin(doc["kommunenr"]), "membership_source"] == "simulated"
    ).all()
    assert "1866" not in set(reg["kommunenr"])  # Hadsel, documented non-participant
    # standard dates of the simulated rows
    sim = reg[reg["membership_source"] == "simulated"]
    starts = sim.groupby("pulje")["programme_start"].unique().to_dict()
    assert {k: list(v) for k, v in starts.items()} == {
        "I": ["2007-04"],
        "II": ["2007-11"],
        "III": ["2008-08-28"],
        "IV": ["2009-01"],
    }
    # leavers leave after their start and before 2010
    left = reg[reg["left"] != ""]
    assert (pd.to_datetime(left["left"]) > pd.to_datetime(left["programme_start"])).all()
    assert (pd.to_datetime(left["left"]) < pd.Timestamp("2010-01-01")).all()


def test_registry_round_trip_with_cohorts_reader(tmp_path, default):
    paths = write_demo(default, tmp_path)
    reg = cohorts.read_registry(paths["registry"])
    assert len(reg) == 145
    ft = cohorts.first_treated_period(reg, rule="programme_start")
    counts = ft.astype(str).value_counts().to_dict()
    assert counts == {"2007Q2": 41, "2007Q4": 49, "2008Q3": 34, "2009Q1": 21}


# --- determinism and shipped files -------------------------------------------------------------


def _digest(result) -> str:
    return hashlib.sha256(extract_text(result.extract).encode()).hexdigest()


def test_deterministic_by_seed(default):
    again = simulate()
    assert _digest(again) == _digest(default)
    pd.testing.assert_frame_equal(again.truth_att, default.truth_att)
    other = simulate(scenario("default", seed=1))
    assert _digest(other) != _digest(default)
    assert not other.registry["kommunenr"].equals(default.registry["kommunenr"])


def test_shipped_files_equal_default_output(tmp_path, default):
    written = write_demo(default, tmp_path)
    for kind, path in written.items():
        shipped = config.DEMO_DIR / FILES[kind]
        assert shipped.exists(), f"{shipped} missing: run `kvk data demo`"
        assert sha256(path) == sha256(shipped), (
            f"{shipped.name} differs from the default seed's output"
        )


def test_shipped_readme_says_simulated():
    text = (config.DEMO_DIR / "README.md").read_text(encoding="utf-8")
    assert "SIMULATED" in text and str(DEFAULT_SEED) in text and "kvk data demo" in text


# --- format ------------------------------------------------------------------------------------


def test_format_number():
    assert format_number(50234.0) == "50 234,0"
    assert format_number(612.54) == "612,5"
    assert format_number(1218, 0) == "1 218"
    assert format_number(0.0) == "0,0"


def test_extract_format_and_kristiansund(default):
    text = extract_text(default.extract)
    lines = text.splitlines()
    assert lines[0] == ";".join(KS_COLUMNS)
    assert all(line.count(";") == 7 for line in lines)
    ex = default.extract
    assert set(ex["Sektor"]) == set(SECTOR_NAMES)
    assert ex["Kvartal"].str.fullmatch(r"20(0[5-9]|1[01])K[1-4]").all()
    quarters = ex.groupby("Kommunenr")["Kvartal"].agg(["min", "max", "count"])
    assert tuple(quarters.loc["1503"]) == ("2005K1", "2007K4", 36)
    assert tuple(quarters.loc["1556"]) == ("2005K1", "2007K4", 36)
    assert tuple(quarters.loc["1505"]) == ("2008K1", "2011K4", 48)
    assert len(quarters) == 432 and len(ex) == (429 * 28 + 2 * 12 + 16) * 3


def test_sector_levels_and_small_units_noisier(default):
    c = default.cells
    rate = (c["lost_self"] + c["lost_doctor"]) / c["contracted_days"] * 100
    by_sector = (
        c.assign(lost=c["lost_self"] + c["lost_doctor"])
        .groupby("sector")[["lost", "contracted_days"]]
        .sum()
    )
    sr = by_sector["lost"] / by_sector["contracted_days"] * 100
    assert sr["care"] > sr["other"] > sr["education"]
    self_share = c["lost_self"].sum() / c["contracted_days"].sum() * 100
    assert 0.7 < self_share < 1.3  # self-certified about 1 % of contracted days
    resid = rate - c["expected_rate"]
    small = c["employees"] < 30
    large = c["employees"] > 1000
    assert resid[small].std() > 5 * resid[large].std()


# --- truth -------------------------------------------------------------------------------------


def test_truth_zero_for_never_treated_and_before_treatment(default):
    c = default.cells
    never = ~c["unit"].isin(set(default.registry["kommunenr"]))
    assert (c.loc[never, "true_effect_pp"] == 0).all()
    tr = default.truth_att
    assert (tr.loc[tr["event_time"] < 0, "true_att_pp"] == 0).all()
    assert tr.groupby("pulje")["n_units"].max().to_dict() == {
        "I": 41,
        "II": 49,
        "III": 34,
        "IV": 21,
    }
    # ramp to about -0.5 pp over four quarters, care > education in size
    dyn = default.truth_aggregates.query("aggregation == 'dynamic' and term == 'event_time'")
    peak = dyn.set_index(["sector", "event_time"])["true_att_pp"]
    assert -0.6 < peak[("all", 3)] < -0.4
    assert peak[("all", 0)] == pytest.approx(peak[("all", 3)] / 4, rel=0.05)
    assert peak[("care", 3)] < peak[("other", 3)] < peak[("education", 3)] < 0
    # fading after 2009: no effect from 2010Q4 on
    late = tr[tr["period"] >= "2010Q4"]
    assert (late["true_att_pp"] == 0).all()


def test_aggregates_consistent_with_cells(default):
    tr = default.truth_att
    agg = default.truth_aggregates
    for sector in ("all", "care"):
        t = tr[(tr["sector"] == sector) & (tr["event_time"] >= 0)]
        simple = (t["true_att_pp"] * t["n_units"]).sum() / t["n_units"].sum()
        got = agg.query("aggregation == 'simple' and sector == @sector")["true_att_pp"].iloc[0]
        assert got == pytest.approx(simple, abs=1e-12)
    # truth of sector 'all' is the days-weighted combination of the unit's sector effects
    c = default.cells
    unit = default.registry.loc[default.registry["pulje"] == "I", "kommunenr"].iloc[0]
    cell = c[(c["unit"] == unit) & (c["period"] == pd.Period("2008Q2", freq="Q"))]
    tau_all = (cell["true_effect_pp"] * cell["contracted_days"]).sum() / cell[
        "contracted_days"
    ].sum()
    assert tau_all < 0 and tau_all != cell["true_effect_pp"].mean()


def test_noise_free_data_recover_truth_by_did(tmp_path, noise_free):
    """Noise-free data written to file and read back: a 2x2 DiD per cohort and quarter (base
    quarter g-1, never-treated controls, unweighted units) equals the planted truth."""
    paths = write_demo(noise_free, tmp_path)
    Y = _unit_rates(_read_extract(paths["extract"]))
    reg = noise_free.registry
    ft = {
        k: pd.Period(pd.Timestamp(v), freq="Q")
        for k, v in zip(reg["kommunenr"], reg["programme_start"], strict=True)
    }
    tr = noise_free.truth_att
    worst = {}
    for (_pulje, first, sector), sub in tr.groupby(["pulje", "first_treated", "sector"]):
        g = pd.Period(first, freq="Q")
        base = g - 1
        ys = Y.loc[sector]
        treated = [u for u, gg in ft.items() if gg == g]
        never = [u for u in ys.index if u not in ft]
        for _, row in sub[sub["event_time"] >= 0].iterrows():
            t = pd.Period(row["period"], freq="Q")
            did = (ys.loc[treated, t] - ys.loc[treated, base]).mean() - (
                ys.loc[never, t] - ys.loc[never, base]
            ).mean()
            worst[sector] = max(worst.get(sector, 0.0), abs(did - row["true_att_pp"]))
    # sectors: exact up to the rounding of days to 0.1 in the file
    for sector in ("care", "education", "other"):
        assert worst[sector] < 0.003
    # all sectors: sector mixes differ slightly across units (rounded employee counts), so
    # sector-specific seasonality leaks into the all-sector rate by up to ~0.01 pp
    assert worst["all"] < 0.03


# --- scenarios ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_scenario_runs(name):
    res = _run(name)
    ex = res.extract
    assert len(ex) > 25_000
    tr = res.truth_att
    reg = res.registry
    cells = res.cells
    part = cells["unit"].isin(set(reg["kommunenr"]))
    if name == "anticipation":
        assert (tr.query("event_time in (-1, -2)")["true_att_pp"] < 0).all()
        assert (tr.query("event_time < -2")["true_att_pp"] == 0).all()
    elif name == "pretrends":
        y0 = cells.assign(p=part).groupby(["p", "period"])["expected_rate_y0"].mean().unstack("p")
        gap = y0[True] - y0[False]
        assert gap.iloc[-1] - gap.iloc[0] > 1.0  # 0.25 pp/year over 7 years
    elif name == "regression_to_mean":
        u = res.units
        simulated = u["kommunenummer"].isin(
            reg.loc[reg["membership_source"] == "simulated", "kommunenr"]
        )
        assert u.loc[simulated, "rtm_shock_pp"].mean() > 0.3  # selected on a transitory high
        tab = participants_table(res)
        assert tab.loc["difference", "pre_2006"] - tab.loc["difference", "rate_2008Q4"] > 0.8
    elif name == "heterogeneous_size":
        eff = cells[
            part & (cells["period"] == pd.Period("2009Q4", freq="Q")) & (cells["sector"] == "care")
        ]
        z = eff["unit"].map(res.units.set_index("kommunenummer")["z_log_pop"])
        assert np.corrcoef(z, eff["true_effect_pp"])[0, 1] < -0.5  # larger units: more negative
    elif name == "dropouts":
        left = reg[reg["left"] != ""]
        assert len(left) == 20
        for code, when in zip(left["kommunenr"], left["left"], strict=True):
            after = cells[
                (cells["unit"] == code)
                & (cells["period"] >= pd.Period(pd.Timestamp(when), freq="Q"))
            ]
            assert (after["true_effect_pp"] == 0).all()
    elif name == "missing_quarters":
        assert (ex["Avtalte dagsverk"] == "").mean() > 0.01
        first = ex.groupby("Kommunenr")["Kvartal"].min()
        assert (first == "2006K1").sum() >= 9
    elif name == "suppressed_cells":
        sup = ex["Tapte dagsverk egenmeldt"] == ":"
        assert sup.any()
        emp = ex["Antall ansatte"].str.replace(" ", "").astype(int)
        assert (emp[sup] < 15).all() and (emp[~sup] >= 15).all()
    elif name == "recoded_2024":
        codes = set(ex["Kommunenr"])
        assert {"3101", "3201", "1505"} <= codes and not {"0101", "0219", "1503", "1556"} & codes
        assert len(codes) < 430
        assert (ex.groupby(["Kommunenr", "Kvartal", "Sektor"]).size() == 1).all()
    elif name == "no_effect":
        assert (tr["true_att_pp"] == 0).all()
        assert (res.truth_aggregates["true_att_pp"] == 0).all()
    else:
        assert name == "default"


def test_recoded_extract_preserves_totals():
    res = _run("recoded_2024")
    ex = res.extract
    days = ex["Avtalte dagsverk"].str.replace(" ", "").str.replace(",", ".").astype(float).sum()
    cells = res.cells
    frame = pd.read_csv(
        config.MUNICIPALITIES_DIR / "kommuner_2007_2008.csv", dtype=str, keep_default_na=False
    )
    split = set(frame.loc[frame["harmonized_2024_code"] == "", "kommunenr"])
    assert len(split) == 11
    expected = cells.loc[~cells["kommunenummer"].isin(split), "contracted_days"].sum()
    assert days == pytest.approx(expected, rel=1e-6)


# --- config and effect shape ---------------------------------------------------------------------


def test_config_validation():
    with pytest.raises(InputError, match="scenario"):
        scenario("nope")
    with pytest.raises(InputError):
        SimulationConfig(sector_shares=(0.5, 0.5, 0.5))
    with pytest.raises(InputError):
        SimulationConfig(code_vintage=2018)
    assert scenario("default", seed=5).seed == 5


def test_effect_multiplier_ramp_and_fade():
    cfg = SimulationConfig()
    t = np.array([8036, 8037, 8038, 8039, 8040, 8041, 8043, 8044])  # 2009Q1 ... 2011Q1
    m = effect_multiplier(cfg, t - 8036, t)
    assert m.tolist() == [0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.0, 0.0]
    assert effect_multiplier(cfg, np.array([np.nan, -1.0]), np.array([8036, 8036])).tolist() == [
        0.0,
        0.0,
    ]
    ant = cfg.replace(anticipation_quarters=2, fade_quarters=None)
    assert effect_multiplier(
        ant, np.array([-3.0, -2.0, -1.0, 9.0]), np.array([8030, 8031, 8032, 8045])
    ).tolist() == [
        0.0,
        0.5,
        0.5,
        1.0,
    ]


# --- readers round trip ------------------------------------------------------------------------


def test_ks_reader_round_trip(tmp_path, default):
    paths = write_demo(default, tmp_path)
    tidy = ks.read_ks(paths["extract"])
    assert len(tidy) == len(default.extract) * 3
    total = tidy[tidy["measure"] == "total"]
    lost = (default.cells["lost_self"] + default.cells["lost_doctor"]).sum()
    assert total["lost_days"].sum() == pytest.approx(lost, rel=1e-9)
    assert total["contracted_days"].sum() == pytest.approx(
        default.cells["contracted_days"].sum(), rel=1e-6
    )
    assert set(tidy["sector"]) == {"care", "education", "other"}
    assert (tidy["status"] == "ok").all()


def test_ks_reader_reads_quirky_scenarios(tmp_path):
    res = simulate(scenario("suppressed_cells", missing_quarter_prob=0.02))
    paths = write_demo(res, tmp_path)
    tidy = ks.read_ks(paths["extract"])
    assert {"confidential", "missing"} <= set(tidy["status"])


# --- employee level ----------------------------------------------------------------------------


def test_employee_level_streams_exact_rows(tmp_path, default):
    path = tmp_path / "emp.csv"
    n = simulate_employee_level(path, n_rows=30_000, result=default, chunk_rows=7_000)
    assert n == 30_000
    df = pd.read_csv(path, sep=";", decimal=",", dtype={"Kommunenr": str, "Ansattnr": str})
    assert len(df) == 30_000
    assert list(df.columns)[:3] == ["Kommunenr", "Kvartal", "Sektor"]
    assert set(df["Kjonn"]) == {"K", "M"}
    assert (
        df["Tapte dagsverk egenmeldt"] + df["Tapte dagsverk legemeldt"]
        <= df["Avtalte dagsverk"] + 1e-9
    ).all()
    rate = (
        (df["Tapte dagsverk egenmeldt"] + df["Tapte dagsverk legemeldt"]).sum()
        / df["Avtalte dagsverk"].sum()
        * 100
    )
    assert 7 < rate < 13
    tidy = ks.read_ks_employee(path)
    tot = tidy[tidy["measure"] == "total"]
    assert tot["contracted_days"].sum() == pytest.approx(df["Avtalte dagsverk"].sum(), rel=1e-9)


# --- command line ------------------------------------------------------------------------------


def test_cli_names_match_the_simulator():
    # the CLI keeps its own copies so that `kvk --help` does not import the simulator
    assert simulate_cli.SCENARIO_NAMES == tuple(SCENARIOS)
    assert simulate_cli.DEFAULT_SEED == DEFAULT_SEED


def test_cli_demo_refuses_to_overwrite_shipped_with_other_scenario(capsys):
    before = sha256(config.DEMO_DIR / FILES["extract"])
    assert main(["data", "demo", "--scenario", "pretrends"]) == 2
    assert "refusing" in capsys.readouterr().err
    assert sha256(config.DEMO_DIR / FILES["extract"]) == before


def test_cli_demo_and_calibration_write_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["data", "demo", "--seed", "7", "--scenario", "no_effect", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES.values())
    assert "SIMULATED" in (out / "README.md").read_text(encoding="utf-8")
    cal = tmp_path / "cal"
    assert main(["data", "calibration", "--out", str(cal)]) == 0
    printed = capsys.readouterr().out
    assert "participants" in printed and "max |simulated - target|" in printed
    png = (cal / "calibration_national.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    tab = pd.read_csv(cal / "participants_vs_others.csv", index_col=0)
    assert list(tab.index) == ["participants", "others", "difference"]


# --- the whole path: files -> readers -> panel -> estimator ------------------------------------


def test_noise_free_truth_recovered_through_pipeline(tmp_path, noise_free):
    """Noise-free demo files through the project's readers, panel builder and ``att_gt`` /
    ``aggte`` give the planted aggregated truth (integration check)."""
    paths = write_demo(noise_free, tmp_path)
    data = panel_mod.build_panel(
        ks.read_ks(paths["extract"]), cohorts.read_registry(paths["registry"])
    ).data
    truth = noise_free.truth_aggregates
    for sector, tol in (("care", 0.002), ("all", 0.01)):
        d = data[data["sector"] == sector]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = att_gt(
                d,
                yname="rate",
                tname="tname",
                idname="kommunenummer",
                gname="gname",
                est_method="reg",
                bstrap=False,
            )
            for kind in ("simple", "dynamic"):
                tidy = aggte(res, type=kind, bstrap=False).tidy()
                est = tidy.loc[tidy["term"].str.contains("overall", case=False), "estimate"].iloc[0]
                want = truth.query(
                    "aggregation == @kind and term == 'overall' and sector == @sector"
                )["true_att_pp"].iloc[0]
                assert est == pytest.approx(want, abs=tol), (sector, kind)
