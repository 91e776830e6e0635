"""Which episode a worker plays next: each environment's server starts on as few workers as possible,
and no worker idles while jobs remain."""

from __future__ import annotations

from envmint.harness.schedule import Scheduler


def _jobs(counts: dict[str, int]) -> list[tuple[str, int]]:
    return [(env, i) for env, n in counts.items() for i in range(n)]


def _drain(scheduler: Scheduler[tuple[str, int]], workers: int) -> list[list[str]]:
    """Round-robin the workers (as equal-length episodes would) and return each one's environments in order."""
    current: list[str | None] = [None] * workers
    seen: list[list[str]] = [[] for _ in range(workers)]
    active = set(range(workers))
    while active:
        for w in sorted(active):
            handed = scheduler.next(current[w])
            if handed is None:
                active.discard(w)
                continue
            env, job = handed
            assert job[0] == env
            if not seen[w] or seen[w][-1] != env:
                seen[w].append(env)
            current[w] = env
    return seen


def test_two_workers_split_eight_environments_instead_of_both_visiting_each() -> None:
    scheduler = Scheduler(_jobs({f"e{i}": 10 for i in range(8)}), lambda job: job[0])
    visits = _drain(scheduler, 2)
    starts = sum(len(v) for v in visits)
    assert starts <= 9, visits  # plan order would start 16 servers (both workers in every environment)
    assert sorted({env for v in visits for env in v}) == [f"e{i}" for i in range(8)]
    assert len(scheduler) == 0


def test_a_single_environment_is_shared_so_no_worker_idles() -> None:
    scheduler = Scheduler(_jobs({"only": 4}), lambda job: job[0])
    assert _drain(scheduler, 2) == [["only"], ["only"]]


def test_every_job_is_handed_out_exactly_once() -> None:
    jobs = _jobs({"a": 3, "b": 7, "c": 1})
    scheduler = Scheduler(jobs, lambda job: job[0])
    handed = []
    current: str | None = None
    while (item := scheduler.next(current)) is not None:
        current, job = item
        handed.append(job)
    assert sorted(handed) == sorted(jobs)


def test_a_worker_whose_environment_runs_out_joins_the_busiest_one() -> None:
    scheduler = Scheduler(_jobs({"a": 1, "b": 9}), lambda job: job[0])
    assert scheduler.next(None) == ("a", ("a", 0))
    assert scheduler.next(None) == ("b", ("b", 0))
    assert scheduler.next("a") == ("b", ("b", 1))  # "a" is done; both now work on "b"
    assert scheduler.workers_on == {"a": 0, "b": 2}
