"""The stamp ledger: reserve a unit of quota for a serial, complete or release it, read it.

A reservation takes one unit through a conditional UPDATE and is either completed with the
ledger entry (and the stamped document, kept for downloads until pruned) or released, giving
the unit back; reservations orphaned by a crashed process are released by the sweeper.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from stamping.models import Account, Stamp, StampedDocument
from stamping.store import AccountView, StoreError, conditional_update, credit, utc

__all__ = ["StampView", "complete_stamp", "prune_documents", "recent_documents",
           "release_stale", "release_stamp", "reserve_stamp", "stamp_for_key", "stamp_record",
           "stamped_document", "stats"]


@dataclass(frozen=True)
class StampView:
    """A ledger entry."""

    serial: str
    status: str
    stamped_at: dt.datetime | None
    sha256_before: str | None
    sha256_after: str | None
    account_id: int = 0
    placement: dict[str, Any] | None = None


def _delete(model: type[Any]) -> Any:
    return sa.delete(model).execution_options(synchronize_session=False)


def reserve_stamp(session: Session, account: AccountView, serial: str, now: dt.datetime,
                  idempotency_key: str | None = None, sha256_before: str | None = None) -> bool:
    """Take one unit of quota and hold ``serial`` for it; False when the quota is empty.

    With ``idempotency_key``, a second reservation under the same key fails on the unique
    constraint (IntegrityError) and the whole transaction, quota debit included, rolls back.
    """
    taken = session.execute(conditional_update(Account)
                            .where(Account.id == account.id, Account.available > 0)
                            .values(available=Account.available - 1)).rowcount  # type: ignore[attr-defined]
    if taken != 1:
        return False
    session.add(Stamp(serial=serial, account_id=account.id, status="reserved",
                      is_probe=account.is_probe, reserved_at=now,
                      idempotency_key=idempotency_key, sha256_before=sha256_before))
    session.flush()
    return True


def stamp_for_key(session: Session, account_id: int,
                  key: str) -> tuple[str, str, str | None] | None:
    """(serial, status, sha256 of the uploaded document) of the account's stamp made under
    ``key``, if any."""
    row = session.execute(sa.select(Stamp.serial, Stamp.status, Stamp.sha256_before)
                          .where(Stamp.account_id == account_id,
                                 Stamp.idempotency_key == key)).first()
    return None if row is None else (str(row[0]), str(row[1]), row[2])


def complete_stamp(session: Session, serial: str, sha256_before: str, sha256_after: str,
                   now: dt.datetime, document: bytes | None = None,
                   placement: dict[str, Any] | None = None) -> None:
    """Turn a reservation into a ledger entry and count the unit as spent.

    ``document`` (the stamped PDF) is kept in the same transaction for later downloads;
    ``placement`` (where the stamp went, what it covers) is kept for the stamp status.
    """
    stamp = session.get(Stamp, serial, with_for_update=True)
    if stamp is None or stamp.status != "reserved":
        raise StoreError("reservation_lost", "the quota reservation is gone", 500)
    stamp.status, stamp.stamped_at = "issued", now
    stamp.sha256_before, stamp.sha256_after = sha256_before, sha256_after
    stamp.placement = json.dumps(placement) if placement else None
    session.execute(conditional_update(Account).where(Account.id == stamp.account_id)
                    .values(spent=Account.spent + 1))
    if document is not None:
        session.add(StampedDocument(serial=serial, pdf=document, stored_at=now))


def stamped_document(session: Session, serial: str, account_id: int) -> bytes | None:
    """The kept stamped PDF of one of ``account_id``'s serials (None: unknown or pruned)."""
    row = session.execute(
        sa.select(StampedDocument.pdf)
        .join(Stamp, Stamp.serial == StampedDocument.serial)
        .where(StampedDocument.serial == serial, Stamp.account_id == account_id)
    ).first()
    return None if row is None else bytes(row[0])


def recent_documents(session: Session, account_id: int, limit: int = 10
                     ) -> list[tuple[str, dt.datetime | None]]:
    """The account's newest kept stamped documents: (serial, stored_at), newest first."""
    rows = session.execute(
        sa.select(Stamp.serial, StampedDocument.stored_at)
        .join(StampedDocument, StampedDocument.serial == Stamp.serial)
        .where(Stamp.account_id == account_id)
        .order_by(StampedDocument.stored_at.desc()).limit(limit))
    return [(serial, utc(at)) for serial, at in rows]


def prune_documents(session: Session, older_than: dt.datetime) -> int:
    """Drop kept documents stored before ``older_than`` (the ledger entries stay)."""
    return int(session.execute(_delete(StampedDocument)
                               .where(StampedDocument.stored_at < older_than))
               .rowcount)  # type: ignore[attr-defined]


def release_stamp(session: Session, serial: str) -> None:
    """Give back a reservation whose document was not produced."""
    deleted = session.execute(_delete(Stamp).where(Stamp.serial == serial,
                                                     Stamp.status == "reserved")
                              .returning(Stamp.account_id)).first()
    if deleted is not None:
        credit(session, deleted[0], 1)


def release_stale(session: Session, older_than: dt.datetime) -> int:
    """Release reservations orphaned by a crashed process."""
    serials = session.scalars(sa.select(Stamp.serial).where(Stamp.status == "reserved",
                                                            Stamp.reserved_at < older_than))
    count = 0
    for serial in list(serials):
        release_stamp(session, serial)
        count += 1
    return count


def stamp_record(session: Session, serial: str) -> StampView | None:
    """The ledger entry of a serial."""
    stamp = session.get(Stamp, serial)
    if stamp is None:
        return None
    return StampView(stamp.serial, stamp.status, utc(stamp.stamped_at), stamp.sha256_before,
                     stamp.sha256_after, stamp.account_id,
                     json.loads(stamp.placement) if stamp.placement else None)


def stats(session: Session) -> dict[str, int]:
    """Totals for /metrics after a restart: issued stamps by kind."""
    rows = session.execute(sa.select(Stamp.is_probe, sa.func.count())
                           .where(Stamp.status == "issued").group_by(Stamp.is_probe))
    return {("probe" if p else "real"): int(n) for p, n in rows}
