"""The README is executable truth: every ```python block runs as pasted, and every ``convexnn``
command it shows runs (with small sizes where it has size flags) and does what the text says.

Python blocks run in a fresh interpreter each; a ``print(...)`` whose comment starts with
``# True`` must print ``True``. Commands are collected from ```bash and ```text blocks and from
inline code spans; ``convexnn ...`` runs through :func:`convexnn.cli.main` in this process,
``python -m convexnn ...`` as a subprocess. The two set-up lines (a new virtual environment, then
``pip install``) are not run here: the test checks what they name instead (the console script and
the ``test`` extra exist, ``convexnn compare`` parses, pytest is importable).
"""

import configparser
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

from convexnn.cli import _parser, main

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

# small values of the size flags the README documents (the command's own values otherwise)
SMALL = {"compare": {"--n-patterns": "6", "--runs": "2"},
         "lab": {"--widths": "4,8", "--seeds": "1"}}


def _blocks(language):
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.S | re.M)


def _commands():
    """Every command line the README shows that starts with ``convexnn`` or ``python -m convexnn``,
    and the set-up lines that end in one, in order of appearance."""
    found = []
    for block in _blocks("bash") + _blocks("text"):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if re.match(r"(python -m )?convexnn |python3 -m venv ", line):
                found.append(line)
    prose = re.sub(r"^```.*?^```", "", README, flags=re.S | re.M)  # fenced blocks out
    for span in re.findall(r"`([^`]+)`", prose):
        span = " ".join(span.split())
        if re.match(r"(python -m )?convexnn( |$)", span):
            found.append(span)
    return list(dict.fromkeys(found))


COMMANDS = _commands()
SETUP = [c for c in COMMANDS if c.startswith("python3 -m venv ")]
RUNNABLE = [c for c in COMMANDS if c not in SETUP]


def test_the_readme_shows_the_commands_it_should():
    assert len(_blocks("python")) >= 2 and len(SETUP) == 2
    assert "convexnn compare" in RUNNABLE and "python -m convexnn compare" in RUNNABLE
    assert any(c.startswith("convexnn lab ") for c in RUNNABLE)


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_block_runs_as_pasted(index, tmp_path):
    code = _blocks("python")[index]
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # one output line per print; those the README comments as True must print True
    prints = [line for line in code.splitlines() if line.startswith("print(")]
    out = proc.stdout.splitlines()
    assert len(out) == len(prints), (out, prints)
    for line, shown in zip(prints, out):
        if re.search(r"#\s*True\b", line):
            assert shown == "True", line


def _small(argv):
    """``argv`` with the documented size flags set to small values (added when absent)."""
    argv, sizes = list(argv), SMALL.get(argv[0], {})
    if "--help" in argv:
        return argv
    for flag, value in sizes.items():
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


def _normal(text):
    """A line with its numbers replaced by '#' and runs of spaces by one."""
    return " ".join(re.sub(r"\d+(\.\d+)?(e[-+]\d+)?", "#", text).split())


@pytest.mark.parametrize("command", RUNNABLE)
def test_command_runs(command, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    words = shlex.split(command)
    if words[:3] == ["python", "-m", "convexnn"]:
        proc = subprocess.run([sys.executable, "-m", "convexnn", *_small(words[3:])], cwd=tmp_path,
                              env=ENV, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("$ convexnn ")
        return
    argv = _small(words[1:])
    if "--help" in argv:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: convexnn {argv[0]}")
        return
    assert main(argv) == 0
    out = capsys.readouterr().out
    if "--plot" in argv:
        assert (tmp_path / argv[argv.index("--plot") + 1]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if "--output-dir" in argv:
        out_dir = tmp_path / argv[argv.index("--output-dir") + 1]
        for suffix in (".csv", ".png"):
            assert (out_dir / (argv[1] + suffix)).is_file()
        assert re.search(rf"`{out_dir.name}/{argv[1]}\.csv`", README)
    if argv[0] == "compare":
        _check_like_the_pasted_run(out)


def _check_like_the_pasted_run(out):
    """The run looks like the README's pasted one: the same table header, row labels of the same
    form (numbers aside), the same notes, and the ordering held."""
    pasted = next(b for b in _blocks("text") if b.startswith("$ convexnn compare\n")).splitlines()
    lines = out.splitlines()
    header = next(i for i, line in enumerate(pasted) if line.startswith("method "))
    assert lines[header].split() == pasted[header].split()
    labels = {_normal(line.split("  ")[0]) for line in pasted[header + 2:] if line.strip()}
    rows = [line for line in lines[header + 2:] if line.strip()]
    rows = rows[: next(i for i, line in enumerate(rows) if line.startswith("convex route:"))]
    assert rows and all(_normal(line.split("  ")[0]) in labels for line in rows), rows
    text = " ".join(out.split())
    assert "<= convex objective <= every adam run: yes." in text
    for phrase in ("pattern_search 'auto' -> 'sgd'", "solver 'auto' -> interior_point",
                   "agrees with the native solve to"):
        assert phrase in text and phrase in " ".join(pasted), phrase


def test_setup_commands_name_what_exists():
    """``pip install . && convexnn compare`` and ``pip install '.[test]' && pytest``: the console
    script and the extra exist, the command parses, and pytest is installed with the extra."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    scripts = config["options.entry_points"]["console_scripts"]
    assert re.search(r"^\s*convexnn\s*=\s*convexnn\.cli:main\s*$", scripts, flags=re.M)
    extras = config["options.extras_require"]
    for command in SETUP:
        steps = [s.strip() for s in command.split("&&")]
        assert steps[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"]
        install, last = shlex.split(steps[2]), shlex.split(steps[3])
        assert install[:2] == ["pip", "install"]
        target = install[2]
        if target != ".":
            extra = re.fullmatch(r"\.\[(\w+)\]", target).group(1)
            assert extra in extras
            assert last == ["pytest"] and "pytest" in extras[extra]
            import pytest as installed  # noqa: F401  (the test runner itself)
        else:
            assert last[0] == "convexnn"
            args = _parser().parse_args(last[1:])
            assert args.command == "compare" and args.dataset == "diabetes"
