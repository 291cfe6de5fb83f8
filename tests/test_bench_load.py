"""The load benchmark's guard: it uses or drops only a database it created and marked as synthetic."""

import pytest

from tests import scripts


@pytest.fixture
def bench_load():
    return scripts.load("bench_load")


def test_a_database_without_the_mark_is_refused_and_left_alone(bench_load, monkeypatch):
    monkeypatch.setattr(bench_load, "database_mark", lambda server, name: "the practice's live data")
    dropped = []
    monkeypatch.setattr(bench_load, "_admin", lambda server: dropped.append(server))
    with pytest.raises(bench_load.Refused, match="not marked"):
        bench_load.drop_database("postgres://postgres@db", "kapstone_bench_load_1000")
    with pytest.raises(bench_load.Refused, match="not marked"):
        bench_load.create_database("postgres://postgres@db", "kapstone_bench_load_1000", "mark")
    assert dropped == []


def test_a_database_with_no_comment_is_refused(bench_load, monkeypatch):
    monkeypatch.setattr(bench_load, "database_mark", lambda server, name: "")
    with pytest.raises(bench_load.Refused):
        bench_load.refuse_unmarked("postgres://postgres@db", "kapstone_bench_load_1000")


def test_a_marked_database_or_none_at_all_may_be_used(bench_load, monkeypatch):
    mark = bench_load.MARK.format(patients=1000, salt="abc")
    monkeypatch.setattr(bench_load, "database_mark", lambda server, name: mark)
    assert bench_load.refuse_unmarked("postgres://postgres@db", "x") == mark
    monkeypatch.setattr(bench_load, "database_mark", lambda server, name: None)
    assert bench_load.refuse_unmarked("postgres://postgres@db", "x") is None


def test_the_run_keys_follow_the_mark_so_a_kept_database_is_read_with_the_keys_that_wrote_it(bench_load):
    first = bench_load.run_environment("postgres://postgres@db/x", "var", "salt-1")
    again = bench_load.run_environment("postgres://postgres@db/x", "var", "salt-1")
    other = bench_load.run_environment("postgres://postgres@db/x", "var", "salt-2")
    assert first["SECRET_KEY"] == again["SECRET_KEY"] != other["SECRET_KEY"]
    assert "KAPSTONE_DEMO" not in first and bench_load.demo(first)["KAPSTONE_DEMO"] == "1"
    assert len(first["KAPSTONE_RESEARCH_ID_KEY"]) >= 32
