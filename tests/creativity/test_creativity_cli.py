"""`kapstone creativity score-aut` / `score-dat` and the bench entry point."""

import csv
import json

import pytest
from django.core.management import CommandError, call_command

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
    ],
)
def test_it_rejects_malformed_csv_with_exit_status_2(tmp_path, content, encoding, message):
    source = write(tmp_path / "in.csv", content, encoding)
    with pytest.raises(CommandError, match=message) as raised:
        call_command("creativity", "score-aut", str(source), "--out", str(tmp_path / "out.csv"))
    assert raised.value.returncode == 2
    assert not (tmp_path / "out.csv").exists()


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
    assert {"word": "ice cream", "reason": "not_single_word"} in result["invalid_words"]
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
