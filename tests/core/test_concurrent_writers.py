"""Two processes (the web app and the job worker) each read, then write, interleaved. Both
must succeed: on SQLite a deferred transaction that read before another committed a write
fails at once with "database is locked" (busy timeouts do not apply to that case), so every
transaction there begins IMMEDIATE; PostgreSQL's row locks make the same interleaving safe."""

from __future__ import annotations

import threading

from flask_migrate import upgrade
from sqlalchemy import text

from referrals.extensions import db
from tests.separate_databases import app_for, separate_database


def test_read_then_write_transactions_interleaved_both_commit(app, settings, tmp_path):
    with separate_database(settings, tmp_path, "writers") as url:
        other = app_for(settings, url)
        try:
            with other.app_context():
                upgrade()
                engine = db.engine
                with engine.begin() as connection:
                    connection.execute(text(
                        "INSERT INTO case_counters (year, last) VALUES (1, 0), (2, 0)"))
                a_read, b_committed = threading.Event(), threading.Event()
                errors: list[BaseException] = []

                def web():  # reads, lets the worker try to write, then writes
                    try:
                        with engine.connect() as connection, connection.begin():
                            last = connection.execute(text(
                                "SELECT last FROM case_counters WHERE year = 1")).scalar()
                            a_read.set()
                            b_committed.wait(1.0)  # deferred: the worker commits meanwhile
                            connection.execute(text(
                                "UPDATE case_counters SET last = :n WHERE year = 1"),
                                {"n": last + 1})
                    except BaseException as error:  # noqa: BLE001 (reported below)
                        errors.append(error)

                def worker():
                    try:
                        a_read.wait(5)
                        with engine.connect() as connection, connection.begin():
                            connection.execute(text(
                                "UPDATE case_counters SET last = last + 1 WHERE year = 2"))
                        b_committed.set()
                    except BaseException as error:  # noqa: BLE001
                        errors.append(error)

                threads = [threading.Thread(target=web), threading.Thread(target=worker)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(30)
                assert errors == []
                with engine.connect() as connection:
                    rows = dict(connection.execute(text(
                        "SELECT year, last FROM case_counters ORDER BY year")).all())
                assert rows == {1: 1, 2: 1}
        finally:
            with other.app_context():
                db.session.remove()
                db.engine.dispose()
