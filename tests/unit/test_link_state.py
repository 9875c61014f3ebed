"""The WAN link's control file and command-line parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from printwarden.sim.link import Link, LinkState, main, read_state, write_state


def test_state_round_trips_through_the_control_file(tmp_path: Path) -> None:
    path = tmp_path / "link.state"
    write_state(path, "down")
    assert path.read_text() == "down\n"
    assert read_state(path) is LinkState.DOWN
    write_state(str(path), LinkState.UP)
    assert read_state(str(path)) is LinkState.UP
    assert [p.name for p in tmp_path.iterdir()] == ["link.state"]  # no temporary file left


def test_missing_control_file_means_up(tmp_path: Path) -> None:
    assert read_state(tmp_path / "absent") is LinkState.UP


def test_control_file_tolerates_case_and_spaces(tmp_path: Path) -> None:
    path = tmp_path / "link.state"
    path.write_text("  DOWN \n")
    assert read_state(path) is LinkState.DOWN


@pytest.mark.parametrize("text", ["", "off", "down up"])
def test_unknown_control_content_is_an_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "link.state"
    path.write_text(text)
    with pytest.raises(ValueError, match="expected 'up' or 'down'"):
        read_state(path)


def test_write_state_refuses_unknown_states(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sideways"):
        write_state(tmp_path / "link.state", "sideways")
    assert not list(tmp_path.iterdir())


def test_state_changes_before_start_apply_directly() -> None:
    link = Link("127.0.0.1", 0, "127.0.0.1", 9)
    seen = []
    link.down()
    seen.append(link.state)
    link.up()
    seen.append(link.state)
    assert seen == [LinkState.DOWN, LinkState.UP]
    link.stop()  # never started: nothing to do
    with pytest.raises(RuntimeError, match="not running"):
        link.flap(0.1, 1.0)


def test_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        Link("127.0.0.1", 0, "127.0.0.1", 9, latency_ms=-1)


@pytest.mark.parametrize("endpoint", ["127.0.0.1", "127.0.0.1:http", ":80"])
def test_command_line_needs_host_and_port(
    endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--listen", endpoint, "--target", "127.0.0.1:80"])
    assert exit_info.value.code == 2
    assert "expected HOST:PORT" in capsys.readouterr().err
