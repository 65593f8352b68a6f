"""The PostgreSQL backend (BQA_DATABASE_URL) on a real server the suite starts: the `Database` contract, the
schema steps, and the writer lock across processes, including one killed while it holds the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psycopg
import pytest

from service.db.base import SchemaTooNew
from service.db.migrations import steps
from service.db.postgres import WRITER_LOCK, PostgresDatabase
from tests.service.db.contract import TTL_S, DatabaseContract, at_once


class TestPostgres(DatabaseContract):
    engine = "postgres"

    @pytest.fixture()
    def db(self, postgres_server):
        db = PostgresDatabase(postgres_server.create_database(), TTL_S)
        yield db
        db.close()


def test_both_engines_have_the_same_schema_steps():
    assert [(m.number, m.name) for m in steps("postgres")] == [(m.number, m.name) for m in steps("sqlite")]


def test_a_database_from_a_newer_bqa_is_refused(postgres_server):
    url = postgres_server.create_database()
    PostgresDatabase(url, TTL_S).close()
    newer = len(steps("postgres")) + 1
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("INSERT INTO schema_version VALUES (%s, 'from_the_future', 0)", (newer,))
    with pytest.raises(SchemaTooNew, match=f"schema version {newer}, newer than this bqa knows"):
        PostgresDatabase(url, TTL_S)


def test_machines_opening_a_new_database_together_migrate_it_once(postgres_server):
    url = postgres_server.create_database()
    assert at_once(lambda: PostgresDatabase(url, TTL_S).close()) == []
    with psycopg.connect(url) as db:
        versions = [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, len(steps("postgres")) + 1))


def test_turns_added_to_one_conversation_at_once_are_numbered_one_after_the_other(postgres_server):
    first = PostgresDatabase(postgres_server.create_database(), TTL_S)
    second = PostgresDatabase(first.url, TTL_S)  # another machine
    conversation = first.start_conversation()
    numbers = []
    turn = {"question": "q", "resolved_question": "q", "answer": "a", "answerable": True, "citations": [],
            "timing_ms": {}}
    threads = [threading.Thread(target=lambda db=db: numbers.append(db.add_turn(conversation, turn)))
               for db in (first, second) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(1, 9))
    first.close()
    second.close()


HOLD_THE_LOCK = textwrap.dedent("""
    import sys, time
    from service.db.postgres import PostgresDatabase
    db = PostgresDatabase(sys.argv[1], 3600)
    with db.writer_lock():
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
    print("released", flush=True)
""")


def lock_holders(url: str) -> int:
    with psycopg.connect(url) as db:
        return db.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = %s",
            (WRITER_LOCK & 0xFFFFFFFF,),
        ).fetchone()[0]


def test_the_writer_lock_is_one_across_processes_and_a_killed_holder_frees_it(postgres_server):
    url = postgres_server.create_database()
    db = PostgresDatabase(url, TTL_S)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, url, "600"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        got = threading.Event()

        def wait_for_it():
            with db.writer_lock():
                got.set()

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        assert not got.wait(1.0)  # the other process holds it
        assert lock_holders(url) == 1
        os.kill(holder.pid, signal.SIGKILL)  # dies holding it: PostgreSQL frees it with the connection
        assert got.wait(30)
        waiter.join()
    finally:
        holder.kill()
        holder.wait()
    assert lock_holders(url) == 0
    with db.writer_lock():
        assert lock_holders(url) == 1
    db.close()


def test_a_worker_forked_after_the_database_was_opened_uses_its_own_connection(postgres_server):
    db = PostgresDatabase(postgres_server.create_database(), TTL_S)
    conversation = db.start_conversation()  # the parent has a connection now
    pid = os.fork()
    if pid == 0:  # the child, as a gunicorn worker: its queries must not go down the parent's socket
        try:
            db.add_turn(conversation, {"question": "q", "resolved_question": "q", "answer": "a", "answerable": True,
                                       "citations": [], "timing_ms": {}})
            os._exit(0)
        except BaseException:  # noqa: BLE001 - the exit status carries the failure
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [t["n"] for t in db.turns(conversation)] == [1]  # and the parent's connections still work
    db.close()


def test_a_database_restart_goes_unnoticed_and_an_unreachable_database_is_a_503(postgres_server, config, qa,
                                                                                 monkeypatch):
    from dataclasses import replace

    from service.app import create_app
    from service.pipeline import BulletinQA

    monkeypatch.setattr("service.db.postgres.POOL_WAIT_S", 5)  # how long a request waits for a connection
    url = postgres_server.create_database()
    name = url.rsplit("/", 1)[1]
    db = PostgresDatabase(url, config.conversation_ttl)
    service = BulletinQA(replace(config, database_url=url), qa.store, db)
    client = create_app(service.config, qa=service).test_client()

    def ask(conversation_id=None):
        body = {"question": "Who funded CT Travel in March?"}
        if conversation_id:
            body["conversation_id"] = conversation_id
        return client.post("/api/v1/ask", json=body)

    def cut_off():
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))

    first = ask().get_json()
    cut_off()  # every connection the service holds is broken, as by a server restart
    follow_up = ask(first["conversation_id"])
    assert follow_up.status_code == 200 and follow_up.get_json()["turn"] == 2

    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    cut_off()
    refused = ask()
    assert refused.status_code == 503 and refused.get_json()["error"]["code"] == "database_unavailable"
    assert refused.headers["Retry-After"] == "5"

    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    deadline = time.monotonic() + 60
    while (status := ask().status_code) == 503 and time.monotonic() < deadline:
        time.sleep(0.5)  # the pool reconnects on its own
    assert status == 200
    db.close()
