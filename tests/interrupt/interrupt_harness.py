"""Interrupt an apply across a simulated farm and check what it left behind.

Why a harness shared by the CI test and the soak benchmark: both must run
exactly the same scenario and the same checks, only the number of kill
points differs. A farm of simulated miners runs in this process; each
*round* asks for new pools, a rotated admin password and new hostnames on
every miner, an ``apply`` subprocess is interrupted (SIGINT or SIGKILL) at
seeded points, and after every interruption the harness checks:

- the state file parses (``LocalStateBackend.read``);
- state records only changes that happened: a device whose record changed
  this round has the round's pools on the simulated miner (pools are the
  first step, and nothing is recorded before a verified step), and a device
  whose recorded password hash is the round's password has that password;
- the lock is free, and ``fleetform state unlock`` says so (or, were it
  held, names the holder and how to get rid of it);
- for SIGINT: exit code 130, the output names every device that did not
  finish as interrupted, and every step that had started was finished and
  recorded (no device failed half-way);

then re-runs apply, which must succeed, and checks that a following plan
shows no changes and that every miner has the round's configuration.

Kill points are counted in apply progress lines ("applying <step>"), not in
seconds, so a seed gives the same points on a slow and a fast machine.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fleetform.providers.antminer.simulator import MinerConfig, MinerSimulator, SimulatedMiner
from fleetform.secrets import secret_matches
from fleetform.state import LocalStateBackend, State, read_lock_holder

TEMPLATE = """\
devices:
{% for i in range(hosts | length) %}
  - name: m{{ "%02d" % (i + 1) }}
    provider: antminer
    connection:
      host: {{ hosts[i] }}
      port: {{ http_ports[i] }}
      rpc_port: {{ rpc_ports[i] }}
      timeout: 5
      restart_timeout: 20
      credentials: {username: root, password: "${env:FF_SOAK_BOOTSTRAP}"}
    settings:
      pools:
        - url: stratum+tcp://pool.example.com:3333
          worker: farm.r{{ round }}.m{{ i + 1 }}
          password: "${env:FF_SOAK_POOL_PASSWORD}"
        - url: stratum+tcp://backup.example.com:443
          worker: farm.r{{ round }}.m{{ i + 1 }}
      admin_password: "${env:FF_SOAK_ADMIN}"
      network: {mode: dhcp, hostname: "m{{ i + 1 }}-r{{ round }}"}
{% endfor %}
"""
STEPS_PER_DEVICE = 3  # pools, admin_password, network
_APPLYING = re.compile(r"\] (m\d+): (\w+): applying ")
_SUMMARY = re.compile(r"^\s+(m\d+)\s+(applied|unchanged|failed|interrupted)\b(.*)$")


@dataclass(frozen=True)
class KillPoint:
    """Where to interrupt an apply: after the n-th "applying" line, plus a delay.

    ``after_steps == 0`` means "once apply holds the state lock" (it is then
    planning: reading every miner).
    """

    signal: signal.Signals
    after_steps: int
    delay: float

    def __str__(self) -> str:
        where = "while planning" if self.after_steps == 0 else f"after step {self.after_steps}"
        return f"{self.signal.name} {where} +{self.delay:.2f}s"


def kill_points(seed: int, count: int, devices: int,
                signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGKILL),
                *, planning_first: bool = False) -> list[KillPoint]:
    """``count`` reproducible kill points spread over an apply of ``devices`` miners.

    Why these ranges: step 0 (planning) to the last step of a fresh round,
    with up to 0.25 s more so a signal also lands inside a step (a pool
    change waits for bmminer to restart) and not only on its first line.
    ``planning_first`` makes the first point (of each signal) one in the
    planning phase, so a small sample always covers it.
    """
    rng = random.Random(seed)
    last = devices * STEPS_PER_DEVICE - 1
    points = []
    for i in range(count):
        first = i < len(signals)
        step = 0 if planning_first and first else rng.randint(1 if planning_first else 0, last)
        points.append(KillPoint(signals[i % len(signals)], step, round(rng.uniform(0.0, 0.25), 3)))
    return points


@dataclass
class Outcome:
    """One interrupted run: the point, whether the signal was sent, and what it printed."""

    point: KillPoint
    signalled: bool
    returncode: int
    output: str
    problems: list[str] = field(default_factory=list)


@dataclass
class InterruptFarm:
    """Simulated miners, a manifest and a state file; rounds of interrupted applies."""

    workdir: Path
    miners: list[SimulatedMiner]
    simulator: MinerSimulator
    parallelism: int = 10
    round: int = 0
    pool_password: str = "Soak-Pool-Secret-5150"

    @property
    def manifest(self) -> Path:
        """The farm's manifest (written by :func:`start_farm`)."""
        return self.workdir / "farm.yaml"

    @property
    def state_path(self) -> Path:
        """The state file every run uses."""
        return self.workdir / "state" / "state.json"

    def admin_password(self, round_: int | None = None) -> str:
        """The admin password a round asks for (each round rotates it)."""
        return f"Soak-Admin-{self.round if round_ is None else round_}"

    def env(self) -> dict[str, str]:
        """The environment of a run: the round's secrets; the last round's is the bootstrap."""
        env = dict(os.environ)
        env.update(
            FF_SOAK_ADMIN=self.admin_password(),
            FF_SOAK_BOOTSTRAP="root" if self.round == 0 else self.admin_password(self.round - 1),
            FF_SOAK_POOL_PASSWORD=self.pool_password,
            NO_COLOR="1",
        )
        return env

    def args(self, command: str, *more: str) -> list[str]:
        """A ``fleetform`` command line against this farm for the current round."""
        return [sys.executable, "-m", "fleetform.cli.main", command, str(self.manifest),
                "--var-file", str(self.workdir / "vars.yaml"), "--var", f"round={self.round}",
                "--state", str(self.state_path), "--no-color", *more]

    def run(self, command: str, *more: str,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a command to completion."""
        return subprocess.run(self.args(command, *more), env=self.env(), capture_output=True,
                              text=True, timeout=timeout, check=False)

    def workers(self, index: int) -> list[str]:
        """The pool workers the current round asks of miner ``index`` (0-based)."""
        return [f"farm.r{self.round}.m{index + 1}"] * 2

    def read_state(self) -> State:
        """The state as stored (raises StateError if the file does not parse)."""
        return LocalStateBackend(self.state_path).read()

    # -- one interruption ----------------------------------------------------------------
    def interrupt(self, point: KillPoint) -> Outcome:
        """Start an apply, deliver ``point``'s signal, and check what is left behind."""
        before = self.read_state()
        process = subprocess.Popen(
            self.args("apply", "--auto-approve", "--parallelism", str(self.parallelism)),
            env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        assert process.stdout is not None
        lines: list[str] = []
        signalled = self._wait_for(point, process, lines)
        if signalled:
            time.sleep(point.delay)
            if process.poll() is None:
                process.send_signal(point.signal)
            else:
                signalled = False
        lines += process.stdout.readlines()
        process.stdout.close()
        returncode = process.wait(timeout=120)
        outcome = Outcome(point, signalled, returncode, "".join(lines))
        outcome.problems += self._check_exit(outcome)
        outcome.problems += self._check_state(before)
        outcome.problems += self._check_lock()
        return outcome

    def _wait_for(self, point: KillPoint, process: subprocess.Popen[str],
                  lines: list[str]) -> bool:
        """Read output until the kill point; False if apply ended first."""
        assert process.stdout is not None
        if point.after_steps == 0:
            lock = self.state_path.with_name(self.state_path.name + ".lock")
            while process.poll() is None:
                if lock.exists() and read_lock_holder(lock) is not None:
                    return True
                time.sleep(0.01)
            return False
        seen = 0
        for line in process.stdout:
            lines.append(line)
            if _APPLYING.search(line):
                seen += 1
                if seen >= point.after_steps:
                    return True
        return False

    def _check_exit(self, outcome: Outcome) -> list[str]:
        code, text = outcome.returncode, outcome.output
        if "Traceback" in text:
            return [f"{outcome.point}: a traceback was printed:\n{text[-3000:]}"]
        if not outcome.signalled:
            return [] if code == 0 else [f"{outcome.point}: apply ended {code} before the "
                                         f"signal:\n{text[-3000:]}"]
        if outcome.point.signal is signal.SIGKILL:
            return [] if code == -signal.SIGKILL else [f"SIGKILL: exit {code}, not -9"]
        if code == 0 and "Apply complete" in text:
            return []  # the signal arrived after the last device finished
        problems = [] if code == 130 else [f"{outcome.point}: exit {code}, not 130:\n"
                                           f"{text[-3000:]}"]
        return problems + _check_interrupted_report(outcome.point, text)

    def _check_state(self, before: State) -> list[str]:
        try:
            after = self.read_state()
        except Exception as exc:  # the very thing this test exists to catch
            return [f"state does not parse after the interruption: {exc!r}"]
        problems: list[str] = []
        for index, miner in enumerate(self.miners):
            name = f"m{index + 1:02d}"
            record, old = after.record(name), before.record(name)
            if record is None or record == old:
                continue
            snapshot = miner.snapshot()
            workers = [p["user"] for p in snapshot["pools"][:2]]
            if workers != self.workers(index):
                problems.append(f"{name}: state changed this round but the miner has pools "
                                f"{workers}, not {self.workers(index)}")
            stored = record.tracked.get("admin_password")
            if (isinstance(stored, str) and secret_matches(self.admin_password(), stored)
                    and snapshot["password"] != self.admin_password()):
                problems.append(f"{name}: state records the new admin password, the miner "
                                "does not have it")
        return problems

    def _check_lock(self) -> list[str]:
        lock = self.state_path.with_name(self.state_path.name + ".lock")
        holder = read_lock_holder(lock) if lock.exists() else None
        unlock = subprocess.run(
            [sys.executable, "-m", "fleetform.cli.main", "state", "unlock",
             "--state", str(self.state_path)],
            env=self.env(), capture_output=True, text=True, timeout=60, check=False)
        if holder is None:
            ok = unlock.returncode == 0 and "is not locked" in unlock.stdout
            return [] if ok else [f"state unlock on a free lock: {unlock.stdout}{unlock.stderr}"]
        # Held: only acceptable if unlock names the holder and the way out.
        ok = str(holder.pid) in unlock.stdout and "kill" in unlock.stdout
        return [f"the lock is still held by {holder.describe()}"
                + ("" if ok else f"; unlock says: {unlock.stdout}{unlock.stderr}")]

    # -- convergence ---------------------------------------------------------------------
    def converge(self) -> list[str]:
        """Re-run apply, then plan: apply succeeds, plan has no changes, miners match."""
        applied = self.run("apply", "--auto-approve", "--parallelism", str(self.parallelism))
        if applied.returncode != 0:
            return [f"re-run apply exited {applied.returncode}:\n"
                    f"{(applied.stdout + applied.stderr)[-3000:]}"]
        planned = self.run("plan", "--detailed-exitcode")
        if planned.returncode != 0:
            return [f"plan after the re-run exited {planned.returncode}:\n"
                    f"{(planned.stdout + planned.stderr)[-3000:]}"]
        problems: list[str] = []
        for index, miner in enumerate(self.miners):
            snapshot = miner.snapshot()
            if [p["user"] for p in snapshot["pools"][:2]] != self.workers(index):
                problems.append(f"m{index + 1:02d}: pools not converged: {snapshot['pools']}")
            if snapshot["password"] != self.admin_password():
                problems.append(f"m{index + 1:02d}: admin password not converged")
        return problems


def _check_interrupted_report(point: KillPoint, text: str) -> list[str]:
    """SIGINT: every unfinished device is listed as interrupted; started steps finished."""
    summary = {m.group(1): (m.group(2), m.group(3)) for line in text.splitlines()
               if (m := _SUMMARY.match(line))}
    if not summary:
        return [f"{point}: no apply summary in the output:\n{text[-3000:]}"]
    failed = [f"{name}{rest}" for name, (status, rest) in summary.items() if status == "failed"]
    problems = [f"{point}: {len(failed)} device(s) reported failed, not interrupted: "
                f"{'; '.join(failed[:3])}"] if failed else []
    unfinished = [name for name, (status, _) in summary.items() if status == "interrupted"]
    notice = re.search(r"Interrupted: (\d+) device\(s\) did not finish", text)
    if notice is None or int(notice.group(1)) != len(unfinished):
        problems.append(f"{point}: the closing line does not count {len(unfinished)} "
                        f"interrupted device(s):\n{text[-1500:]}")
    started: dict[str, set[str]] = {}
    for match in _APPLYING.finditer(text):
        started.setdefault(match.group(1), set()).add(match.group(2))
    for name, steps in started.items():
        done = summary.get(name, ("", ""))[1].split(" at ")[0].replace(",", " ").split()
        missing = sorted(step for step in steps if step not in done)
        if missing:
            problems.append(f"{point}: {name} started {missing} but did not finish it: "
                            f"{summary.get(name)}")
    return problems


def start_farm(workdir: Path, count: int, subnet: str, *, restart_delay: float = 0.2,
               parallelism: int = 10) -> InterruptFarm:
    """Start ``count`` simulated miners on ``subnet`` and write the farm's manifest."""
    simulator = MinerSimulator()
    simulator.start()
    try:
        miners = [simulator.add(MinerConfig(
            name=f"m{i + 1:02d}", host=f"{subnet}.{i + 1}", http_port=0, rpc_port=0,
            restart_delay=restart_delay, network_delay=0.05)) for i in range(count)]
    except BaseException:
        simulator.stop()
        raise
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "farm.yaml").write_text(TEMPLATE, encoding="utf-8")
    (workdir / "vars.yaml").write_text(
        f"hosts: {json.dumps([m.host for m in miners])}\n"
        f"http_ports: {json.dumps([m.http_port for m in miners])}\n"
        f"rpc_ports: {json.dumps([m.rpc_port for m in miners])}\n", encoding="utf-8")
    return InterruptFarm(workdir, miners, simulator, parallelism=parallelism)
