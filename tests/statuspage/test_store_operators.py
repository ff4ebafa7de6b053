"""Store verbs for operator accounts, on both backends: concurrency of the admin checks."""

from __future__ import annotations

import threading

import pytest

from statuspage.auth import password_hasher
from statuspage.db import Database
from statuspage.store.operators import (
    create_operator,
    list_operators,
    update_operator,
)
from statuspage.store.refusal import Refused

ADMINS = ("satu@example.id", "dua@example.id")


def _admins(db: Database) -> list[str]:
    with db.read() as session:
        return [o.email for o in list_operators(session) if o.role == "admin" and o.active]


@pytest.mark.parametrize("change", [{"role": "operator"}, {"active": False}])
def test_concurrent_demotions_of_the_last_two_admins_leave_one(
        db: Database, change: dict[str, object]) -> None:
    """Each demotion alone is allowed (another admin remains); run together, one must be refused.

    The first demotion holds its transaction open after its check until the second has had time
    to run its own check: without real transactions both checks see two admins and both commit.
    """
    hasher = password_hasher("test")
    with db.session() as session:
        for email in ADMINS:
            create_operator(session, hasher, email=email, password="rahasia-admin-123",
                            role="admin")
    first_checked = threading.Event()
    second_done = threading.Event()
    outcomes: dict[str, str] = {}

    def first() -> None:
        with db.session() as session:
            update_operator(session, ADMINS[0], **change)  # type: ignore[arg-type]
            session.flush()
            first_checked.set()
            second_done.wait(1.0)  # with the fix the second waits for this commit
        outcomes["first"] = "ok"

    def second() -> None:
        first_checked.wait(10)
        try:
            with db.session() as session:
                update_operator(session, ADMINS[1], **change)  # type: ignore[arg-type]
            outcomes["second"] = "ok"
        except Refused as refusal:
            outcomes["second"] = f"refused: {','.join(refusal.errors)}"
        finally:
            second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes == {"first": "ok", "second": "refused: role"}
    assert _admins(db) == [ADMINS[1]]
