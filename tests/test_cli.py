"""The command line: clear one-line errors for bad input, nothing written over."""

from pathlib import Path

import pytest

from enginebench.cli import main


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    return capsys.readouterr().err


def test_unknown_engine_lists_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, ["run", "--engines", "torhc"])
    assert "unknown engine 'torhc'" in err and "torch" in err


def test_unknown_precision_lists_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    err = _error(capsys, ["run", "--engines", "torch", "--precisions", "fp33"])
    assert "unknown precision 'fp33'" in err and "bf16" in err


def test_unknown_model_and_bad_path(cache_dir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    err = _error(capsys, ["run", "--engines", "torch", "--model", "llama9"])
    assert "unknown preset" in err and "small" in err
    (tmp_path / "empty").mkdir()
    err = _error(capsys, ["run", "--engines", "torch", "--model", str(tmp_path / "empty")])
    assert "no config.json" in err


def test_bad_workload_values(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    err = _error(capsys, ["run", "--engines", "torch", "--new-tokens", "1"])
    assert "--new-tokens must be at least 2" in err


def test_unknown_option_exits_nonzero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", "--tokens", "5"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --tokens" in capsys.readouterr().err


def test_show_corrupt_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "run.json"
    bad.write_text("{\"schema_version\": 1, \"cells\": ")
    before = bad.read_text()
    err = _error(capsys, ["show", str(bad)])
    assert str(bad) in err and "not valid JSON" in err
    assert bad.read_text() == before


def test_list_and_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("tiny", "small", "llama2-7b", "mistral-7b", "llama3-8b"):
        assert name in out


def test_out_that_is_a_file(tiny: object, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    blocker = tmp_path / "results"
    blocker.write_text("keep me")
    err = _error(capsys, ["run", "--engines", "torch", "--model", "tiny", "--out", str(blocker)])
    assert f"--out {blocker}: cannot create" in err
    assert blocker.read_text() == "keep me"
