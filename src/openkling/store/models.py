"""SQLAlchemy 2 tables: accounts, tasks, the credits ledger and the callbacks outbox."""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ..domain.status import TaskStatus


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    access_key: Mapped[str] = mapped_column(String(64), unique=True)
    secret_key: Mapped[str] = mapped_column(String(128), unique=True)
    webhook_secret: Mapped[str] = mapped_column(String(128))  # "": callbacks go unsigned
    # a standard rotation keeps the old secret signing too, until webhook_previous_until (ms)
    webhook_secret_previous: Mapped[str | None] = mapped_column(String(128), nullable=True)
    webhook_previous_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    balance_milli: Mapped[int] = mapped_column(BigInteger, default=0)
    allowed_models: Mapped[list | None] = mapped_column(JSON, nullable=True)  # None: all
    revoked_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # keys revoke
    created_at: Mapped[int] = mapped_column(BigInteger)
    # the fair claim (tasks/scheduling.py): a weight on the account's share of the workers,
    # and when (microseconds) a worker last took one of its tasks, which breaks ties
    priority: Mapped[float] = mapped_column(Float, default=1.0, server_default=text("1.0"))
    last_claim_at: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("account_id", "external_task_id", name="uq_tasks_account_external"),
        Index("ix_tasks_account_created", "account_id", "created_at"),
        Index("ix_tasks_account_family_created", "account_id", "family", "created_at"),
        Index("ix_tasks_status_lease", "status", "lease_expires_at"),
        Index("ix_tasks_account_status", "account_id", "status"),
        Index("ix_tasks_retention", "status", "expired_at", "updated_at"),
        Index("ix_tasks_queue", "status", "model_name", "account_id", "created_at"),
        Index("ix_tasks_model_runs", "model_name", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    external_task_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    model_name: Mapped[str] = mapped_column(String(64))
    family: Mapped[str] = mapped_column(String(32), default="text2video")  # the door it came by
    request: Mapped[dict] = mapped_column(JSON)  # request.GenerationRequest, normalised
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.SUBMITTED.value)
    status_msg: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(BigInteger)
    cost_milli: Mapped[int] = mapped_column(BigInteger, default=0)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    expired_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # files removed
    started_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # last claim
    # times the fair claim's pick was passed over for a worker's loaded model (bounded)
    passed_over: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LedgerEntry(Base):
    """Append-only: every credit movement. One charge and at most one refund per task."""

    __tablename__ = "ledger"
    __table_args__ = (UniqueConstraint("task_id", "kind", name="uq_ledger_task_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # grant | charge | refund
    delta_milli: Mapped[int] = mapped_column(BigInteger)
    balance_after_milli: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


class Callback(Base):
    """Outbox row: one POST of a task object to a callback URL, retried until delivered."""

    __tablename__ = "callbacks"
    __table_args__ = (Index("ix_callbacks_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    task_id: Mapped[str] = mapped_column(String(32), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    locked_until: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


# The tables themselves, for Core statements (declarative types them as any FromClause)
ACCOUNTS = cast(Table, Account.__table__)
TASKS = cast(Table, Task.__table__)
LEDGER = cast(Table, LedgerEntry.__table__)
