"""Orders and payments of the stamping service: create, look up, pay, expire.

An order is created once per idempotency key; a probe account's order is paid at once.  A
verified gateway notification pays a pending order exactly once (its event id is recorded, and
the status moves through a conditional UPDATE), crediting the account's quota.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stamping.models import Order, PaymentEvent
from stamping.rules import order_amount
from stamping.store import AccountView, StoreError, conditional_update, credit, utc

__all__ = ["OrderView", "apply_payment", "create_order", "expire_orders", "get_order",
           "order_by_payment_ref"]


@dataclass(frozen=True)
class OrderView:
    """An order as the API shows it."""

    id: str
    quantity: int
    amount: int
    status: str
    payment_ref: str
    is_probe: bool
    created_at: dt.datetime
    expires_at: dt.datetime
    paid_at: dt.datetime | None


def _order_view(o: Order, now: dt.datetime | None = None) -> OrderView:
    status = o.status
    expires = utc(o.expires_at)
    assert expires is not None
    if status == "pending" and now is not None and expires <= now:
        status = "expired"  # the sweeper persists it; readers must not wait for that
    created = utc(o.created_at)
    assert created is not None
    return OrderView(o.id, o.quantity, o.amount, status, o.payment_ref, o.is_probe,
                     created, expires, utc(o.paid_at))


def create_order(session: Session, account: AccountView, key: str, quantity: int,
                 stamp_price: int, service_fee: int, ttl: dt.timedelta,
                 now: dt.datetime) -> tuple[OrderView, bool]:
    """Create an order once per idempotency key; returns (order, created)."""
    def existing() -> tuple[OrderView, bool]:
        order = session.scalar(sa.select(Order).where(Order.account_id == account.id,
                                                      Order.idempotency_key == key))
        assert order is not None
        if order.quantity != quantity:
            raise StoreError("idempotency_conflict",
                             "this Idempotency-Key was used for a different order", 409)
        return _order_view(order, now), False

    if session.scalar(sa.select(Order.id).where(Order.account_id == account.id,
                                                Order.idempotency_key == key)) is not None:
        return existing()
    order = Order(id=uuid.uuid4().hex, account_id=account.id, idempotency_key=key,
                  quantity=quantity, unit_price=stamp_price, service_fee=service_fee,
                  amount=order_amount(quantity, stamp_price, service_fee),
                  status="pending", payment_ref="QR" + secrets.token_hex(12).upper(),
                  is_probe=account.is_probe, created_at=now, expires_at=now + ttl)
    try:
        with session.begin_nested():
            session.add(order)
    except IntegrityError:  # a concurrent request with the same key won the race
        return existing()
    if account.is_probe:  # probe accounts exercise the real path without paying
        order.status, order.paid_at = "paid", now
        credit(session, account.id, quantity)
    return _order_view(order, now), True


def get_order(session: Session, account_id: int, order_id: str,
              now: dt.datetime) -> OrderView | None:
    """One of the account's orders."""
    order = session.scalar(sa.select(Order).where(Order.id == order_id,
                                                  Order.account_id == account_id))
    return _order_view(order, now) if order is not None else None


def order_by_payment_ref(session: Session, payment_ref: str,
                         now: dt.datetime) -> OrderView | None:
    """The order a QRIS payment reference belongs to."""
    order = session.scalar(sa.select(Order).where(Order.payment_ref == payment_ref))
    return _order_view(order, now) if order is not None else None


def apply_payment(session: Session, event_id: str, order_id: str, amount: int,
                  now: dt.datetime) -> tuple[OrderView, bool]:
    """Apply a verified gateway notification; returns (order, credited_now)."""
    order = session.scalar(sa.select(Order).where(Order.id == order_id))
    if order is None:
        raise StoreError("unknown_order", "no such order", 404)
    if amount != order.amount:
        raise StoreError("amount_mismatch", "the paid amount does not match the order", 400)
    try:
        with session.begin_nested():
            session.add(PaymentEvent(event_id=event_id, order_id=order_id, received_at=now))
    except IntegrityError:
        raise StoreError("replayed", "this notification was already processed", 409) from None
    paid = session.execute(
        conditional_update(Order)
        .where(Order.id == order_id, Order.status == "pending", Order.expires_at > now)
        .values(status="paid", paid_at=now)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(order)
    if paid == 1:
        credit(session, order.account_id, order.quantity)
        return _order_view(order, now), True
    if order.status == "paid":
        return _order_view(order, now), False
    raise StoreError("order_expired", "the order expired before it was paid", 409)


def expire_orders(session: Session, now: dt.datetime) -> int:
    """Mark unpaid orders past their deadline as expired."""
    return int(session.execute(conditional_update(Order).where(Order.status == "pending",
                                                                 Order.expires_at <= now)
                               .values(status="expired")).rowcount)  # type: ignore[attr-defined]
