"""The SQLite write turn (proxyapp/database.py): threads of a process and processes take it one at a time."""

from __future__ import annotations

import multiprocessing
import threading

from proxyapp.database import WriteGate


def _hold(gate: WriteGate, held, release) -> None:
    """In a forked process: take the turn, say so, and keep it until told to give it back."""
    assert gate.acquire(timeout=5)
    held.set()
    release.wait(10)
    gate.release()


def test_another_process_waits_for_the_turn_and_gets_it_when_given_back(tmp_path):
    path = str(tmp_path / "app.db")
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    holder = context.Process(target=_hold, args=(WriteGate(path), held, release))
    holder.start()
    try:
        assert held.wait(10)
        gate = WriteGate(path)
        assert gate.acquire(timeout=0.2) is False  # the other process has it
        release.set()
        assert gate.acquire(timeout=5) is True
        gate.release()
    finally:
        release.set()
        holder.join(10)
    assert holder.exitcode == 0


def test_a_forked_child_takes_its_own_turn_not_its_parents(tmp_path):
    """A lock taken through a descriptor inherited across fork would be the parent's: the child opens its own."""
    gate = WriteGate(str(tmp_path / "app.db"))
    assert gate.acquire(timeout=1)
    gate.release()  # the parent has opened its descriptor
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    child = context.Process(target=_hold, args=(gate, held, release))
    child.start()
    try:
        assert held.wait(10)
        assert gate.acquire(timeout=0.2) is False  # the child holds the turn, through its own descriptor
    finally:
        release.set()
        child.join(10)
    assert child.exitcode == 0
    assert gate.acquire(timeout=5)
    gate.release()


def test_threads_of_one_process_take_turns(tmp_path):
    gate = WriteGate(str(tmp_path / "app.db"))
    inside, most = [0], [0]
    lock = threading.Lock()

    def write() -> None:
        for _ in range(50):
            assert gate.acquire(timeout=5)
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            with lock:
                inside[0] -= 1
            gate.release()

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert most[0] == 1


def test_an_in_memory_database_has_a_thread_turn_only(tmp_path):
    gate = WriteGate(":memory:")
    assert gate.acquire(timeout=1)
    assert not list(tmp_path.iterdir())
    gate.release()
