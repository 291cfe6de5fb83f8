"""`kapstone creativity score-aut` / `score-dat` and the bench entry point."""

import csv
import json

import pytest
from django.core.management import CommandError, call_command

from kapstone.creativity import aut_files, bench
from kapstone.creativity.bench import benchmark


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_it_adds_scores_to_a_csv_and_keeps_rows_columns_and_order(tmp_path, capsys):
    source = write(
        tmp_path / "in.csv",
        "id,prompt,response,note\n1,brick,doorstop,a\n2,fork,,b\n3,Bricks,a tiny bed for a mouse,c\n",
    )
    out = tmp_path / "out.csv"
    call_command("creativity", "score-aut", str(source), "--out", str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["id", "prompt", "response", "note", "originality", "elaboration", "status"]
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert [r["status"] for r in rows] == ["ok", "empty", "ok"]
    assert rows[1]["originality"] == ""
    assert 1 <= float(rows[0]["originality"]) < float(rows[2]["originality"]) <= 5
    assert "scored 3/3" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "encoding", "message"),
    [
        ("a,b\n1,2\n", "utf-8", "no column prompt or response"),
        ("prompt,text\nbrick,doorstop\n", "utf-8", "no column response"),
        ("prompt,response\nbrick,doorstop,extra\n", "utf-8", "line 2 has 3 fields"),
        ("prompt,response\nbrick,brique à mur\n", "latin-1", "not UTF-8"),
        ("", "utf-8", "is empty"),
        ("prompt,response\nbrick,door\x00stop\n", "utf-8", "NUL byte on line 2"),
        ("prompt,response\nbrick,doorstop\n", "utf-16", "NUL byte on line 1"),
        ('prompt,response\nbrick,doorstop\nfork,"comb\nbox,hat\n', "utf-8", "line 3 opens a quoted field"),
        ('prompt,response\nbrick,"door\nstop"\nfork,"comb', "utf-8", "line 4 opens a quoted field"),
    ],
)
def test_it_rejects_malformed_csv_with_exit_status_2(tmp_path, content, encoding, message):
    source = write(tmp_path / "in.csv", content, encoding)
    with pytest.raises(CommandError, match=message) as raised:
        call_command("creativity", "score-aut", str(source), "--out", str(tmp_path / "out.csv"))
    assert raised.value.returncode == 2
    assert not (tmp_path / "out.csv").exists()


def test_a_quoted_answer_over_several_lines_is_one_response(tmp_path):
    source = write(tmp_path / "in.csv", 'prompt,response\nbrick,"a step,\nfor a cat"\nfork,comb\n')
    call_command("creativity", "score-aut", str(source), "--out", str(tmp_path / "out.csv"))
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert [r["response"] for r in rows] == ["a step,\nfor a cat", "comb"]


def test_it_rejects_a_file_over_the_size_limit_before_parsing_it(tmp_path, monkeypatch):
    monkeypatch.setattr(aut_files, "MAX_FILE_BYTES", 100)
    source = write(tmp_path / "in.csv", "prompt,response\n" + "brick,doorstop\n" * 10)
    with pytest.raises(CommandError, match="larger than .* split it") as raised:
        call_command("creativity", "score-aut", str(source), "--out", str(tmp_path / "out.csv"))
    assert raised.value.returncode == 2
    assert not (tmp_path / "out.csv").exists()


def test_it_rejects_more_rows_than_the_limit_and_accepts_exactly_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(aut_files, "MAX_ROWS", 3)
    at_limit = write(tmp_path / "three.csv", "prompt,response\n" + "brick,doorstop\n" * 3)
    call_command("creativity", "score-aut", str(at_limit), "--out", str(tmp_path / "three_out.csv"))
    over = write(tmp_path / "four.csv", "prompt,response\n" + "brick,doorstop\n" * 4)
    with pytest.raises(CommandError, match="more than 3 responses") as raised:
        call_command("creativity", "score-aut", str(over), "--out", str(tmp_path / "four_out.csv"))
    assert raised.value.returncode == 2
    assert not (tmp_path / "four_out.csv").exists()


def test_an_input_originality_column_is_kept_renamed_and_the_rename_is_said(tmp_path, capsys):
    # The rated dataset's own format: scoring it directly puts human and model ratings side by side.
    source = write(
        tmp_path / "in.csv",
        "prompt,response,originality,Status,status_input\nbrick,doorstop,1.2,x,y\nfork,comb for a mermaid,4.1,,\n",
    )
    out = tmp_path / "out.csv"
    call_command("creativity", "score-aut", str(source), "--out", str(out))
    with out.open(encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    assert header == [
        "prompt", "response", "originality_input", "Status_input_2", "status_input",
        "originality", "elaboration", "status",
    ]  # fmt: skip
    assert rows[0][:5] == ["brick", "doorstop", "1.2", "x", "y"]
    assert rows[1][2] == "4.1" and 1 <= float(rows[1][5]) <= 5
    err = capsys.readouterr().err
    assert "'originality' is kept as 'originality_input'" in err
    assert "'Status' is kept as 'Status_input_2'" in err


def test_it_rejects_a_missing_file_with_exit_status_2(tmp_path):
    with pytest.raises(CommandError, match="Cannot read") as raised:
        call_command("creativity", "score-aut", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o.csv"))
    assert raised.value.returncode == 2


def test_it_prints_dat_results_as_json(capsys):
    call_command(
        "creativity",
        "score-dat",
        "cat",
        "Volcano",
        "justice",
        "spoon",
        "microbe",
        "glacier",
        "tax",
        "passport",
        "ice cream",
        "cat",
    )
    result = json.loads(capsys.readouterr().out)
    assert result["words_used"] == ["cat", "volcano", "justice", "spoon", "microbe", "glacier", "tax"]
    assert {"word": "ice cream", "reason": "not_single_word", "meaning": "more than one word"} in result[
        "invalid_words"
    ]
    assert 0 < result["score"] < 100


def test_the_bench_reports_accuracy_count_and_speed(tmp_path):
    rated = write(
        tmp_path / "val.csv",
        "prompt,response,originality\nbrick,doorstop,1.2\nbrick,build a wall,1.0\n"
        "brick,grind into pigment for cave paintings,3.8\nfork,comb for a mermaid,4.1\n",
    )
    result = benchmark(rated)
    assert {"r_val", "n", "responses_per_second"} <= set(result)
    assert result["n"] == 4 and result["r_val"] > 0.5 and result["responses_per_second"] > 0
    assert result["excluded_by_checks"] == 0 and result["r_val_checked"] == result["r_val"]


def test_the_bench_reads_the_rated_data_only_from_the_folder_it_is_told(tmp_path, monkeypatch):
    lines = []
    monkeypatch.delenv(bench.DATA_DIR_VARIABLE, raising=False)
    bench.run(out=lines.append)
    assert lines[-1] == "  skipped: KAPSTONE_AUT_DATA_DIR does not name the folder of the rated AUT data"
    monkeypatch.setenv(bench.DATA_DIR_VARIABLE, str(tmp_path))
    bench.run(out=lines.append)
    assert lines[-1] == f"  skipped: {tmp_path / 'aut_ratings_val.csv'} not found"


def test_repetitive_and_non_english_rows_get_a_status_and_an_empty_originality(tmp_path):
    source = write(
        tmp_path / "in.csv",
        "prompt,response\nbrick," + "a" * 10_000 + "\nbrick," + "x " * 300 + "\nbrick,usar como pisapapeles\n",
    )
    out = tmp_path / "out.csv"
    call_command("creativity", "score-aut", str(source), "--out", str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["status"], r["originality"], r["elaboration"]) for r in rows] == [
        ("repetitive", "", ""),
        ("repetitive", "", ""),
        ("not_english", "", ""),
    ]


def test_several_workers_write_the_same_file_as_one(tmp_path, monkeypatch):
    monkeypatch.setattr(aut_files, "CHUNK_ROWS", 2)
    source = write(
        tmp_path / "in.csv",
        "prompt,response\nbrick,doorstop\nfork,comb for a mermaid\nbrick,\nshoe,plant pot for a cactus\nbox,hat\n",
    )
    call_command("creativity", "score-aut", str(source), "--out", str(tmp_path / "one.csv"))
    call_command("creativity", "score-aut", str(source), "--out", str(tmp_path / "two.csv"), "--workers", "2")
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()


@pytest.mark.parametrize("workers", ["0", "-1", "two", "1000"])
def test_it_refuses_a_worker_count_it_cannot_use(tmp_path, workers):
    source = write(tmp_path / "in.csv", "prompt,response\nbrick,doorstop\n")
    with pytest.raises(CommandError, match="workers|whole number"):
        call_command("creativity", "score-aut", str(source), "--out", str(tmp_path / "o.csv"), "--workers", workers)
    assert not (tmp_path / "o.csv").exists()


def test_it_summarises_each_participant_and_object(tmp_path):
    source = write(
        tmp_path / "in.csv",
        "participant,prompt,response\n"
        "p1,brick,doorstop\np1,brick,Door-stop!\np1,brick,grind into pigment for paint\np1,brick,\n"
        "p2,brick,build a house\np1,fork,comb for a mermaid\n",
    )
    summary = tmp_path / "summary.csv"
    call_command("creativity", "score-aut", str(source), "--out", str(tmp_path / "o.csv"), "--summary", str(summary))
    rows = list(csv.DictReader(summary.open(encoding="utf-8")))
    assert list(rows[0]) == list(aut_files.SUMMARY_COLUMNS)
    assert [(r["participant"], r["prompt"], r["responses_given"], r["fluency"]) for r in rows] == [
        ("p1", "brick", "4", "2"),
        ("p2", "brick", "1", "1"),
        ("p1", "fork", "1", "1"),
    ]
    assert rows[0]["flexibility"] == "2" and rows[0]["excluded"] == "duplicate: 1; empty: 1"
    assert float(rows[0]["originality_top2_mean"]) >= float(rows[0]["originality_mean"]) >= 1


def test_a_summary_without_a_participant_column_exits_2_and_writes_nothing(tmp_path):
    source = write(tmp_path / "in.csv", "prompt,response\nbrick,doorstop\n")
    with pytest.raises(CommandError, match="no column participant") as raised:
        call_command(
            "creativity", "score-aut", str(source), "--out", str(tmp_path / "o.csv"), "--summary", str(tmp_path / "s")
        )
    assert raised.value.returncode == 2
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "s").exists()


def test_progress_without_a_terminal_is_a_line_per_tenth_of_the_file():
    import io

    from kapstone.creativity.management.commands.creativity import Progress

    stream = io.StringIO()
    progress = Progress(stream)
    for done in range(100, 1001, 100):
        progress(done, 1000)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("scored 1000/1000 responses (")
