"""The case queues: keyset-paginated, so a page costs the same at row 100 and 100,000.

Order: priority (P0 first), then the next deadline, then id. A cursor is the last
row's (priority_rank, queue_due_at, id); "last page" reads the order backwards.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Integer, bindparam, func, select, tuple_

from referrals.accounts.models import User
from referrals.vocabulary.identifiers import candidate_forms
from referrals.cases.models import Case, Identifier
from referrals.cases.rules import DUE_SOON, PRIORITY_RANK
from referrals.core.clock import as_utc, now
from referrals.core.errors import InvalidInput
from referrals.core.identity import Identity
from referrals.extensions import db

VIEWS = {"mine": "Mine", "unassigned": "Unassigned", "open": "All open", "closed": "Closed"}
PAGE_SIZE = 50
# The overdue and due-soon badges count up to this many and then say "1000+": counting
# every overdue case grows with the data, and was most of a page's time at 100,000 cases.
COUNT_LIMIT = 1000
REFERENCE = re.compile(r"^CASE-\d{4}-\d{6}$", re.IGNORECASE)


@dataclass
class QueueFilters:
    view: str = "open"
    category: str = ""
    status: str = ""
    assignee_id: int | None = None
    q: str = ""


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One row of a queue page: the columns it shows, read as plain values (no ORM object,
    no relationship loads: a page of them costs a fraction of 50 cases and their assignees).
    ``deadline`` is ``deadline_state`` of the row, worked out once."""

    id: int
    reference: str
    title: str
    category: str
    priority: str
    priority_rank: int
    status: str
    is_open: bool
    queue_due_at: datetime | None
    first_response_at: datetime | None
    closed_at: datetime | None
    assignee_name: str | None  # None: unassigned
    deadline: str = ""


_ROW_COLUMNS = (Case.id, Case.reference, Case.title, Case.category, Case.priority,
                Case.priority_rank, Case.status, Case.is_open, Case.queue_due_at,
                Case.first_response_at, Case.closed_at,
                func.coalesce(func.nullif(User.full_name, ""), User.email))


def _row(values) -> QueueRow:
    row = QueueRow(*values)
    state = deadline_state(row)
    return row if not state else QueueRow(*values, deadline=state)


@dataclass
class QueuePage:
    cases: list[QueueRow]
    next_cursor: str | None = None
    prev_cursor: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    count_limit: int = COUNT_LIMIT
    searched_identifiers: list[str] = field(default_factory=list)


def encode_cursor(case: Case | QueueRow) -> str:
    raw = f"{case.priority_rank}|{as_utc(case.queue_due_at).isoformat()}|{case.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, int]:
    """Only what ``encode_cursor`` makes: an edited link is refused, never sent to the
    database (an out-of-range number there is an overflow error, not an empty page)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        rank, due, case_id = raw.split("|")
        rank, due, case_id = int(rank), datetime.fromisoformat(due), int(case_id)
        if rank not in PRIORITY_RANK.values() or not 0 < case_id < 2**31 or due.tzinfo is None:
            raise ValueError("not a cursor this queue made")
        return rank, as_utc(due), case_id
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput("That page link is not valid any more. Start from the first page.",
                           field="after") from error


def search_candidates(q: str, region: str) -> list[str]:
    """Every normal form the search text could be, across identifier kinds."""
    return sorted({form for _, form in candidate_forms(q, region=region)})


@dataclass(frozen=True)
class _Shape:
    """What a queue statement's SQL depends on; the values (the user, the filters' values,
    the cursor, the clock) are bound when it runs. One statement is built for each shape and
    kept: building a select with its filters, joins and count subqueries, and working out its
    cache key, cost more CPU than running it."""

    view: str
    category: bool
    status: bool
    assignee: bool
    search: str  # "" | "reference" | "identifiers"
    cursor: str  # "" | "after" | "before"
    backwards: bool
    page_size: int


_DUE = Case.queue_due_at.type
_STATEMENTS: dict[_Shape, tuple] = {}


def _filtered(shape: _Shape):
    """The view's cases (``select(Case)``) with its filters, as bound parameters."""
    query = select(Case)
    if shape.view == "mine":
        query = query.where(Case.assignee_id == bindparam("user_id"), Case.is_open.is_(True))
    elif shape.view == "unassigned":
        query = query.where(Case.assignee_id.is_(None), Case.is_open.is_(True))
    elif shape.view == "closed":
        query = query.where(Case.is_open.is_(False))
    else:
        query = query.where(Case.is_open.is_(True))
    if shape.category:
        query = query.where(Case.category == bindparam("category"))
    if shape.status:
        query = query.where(Case.status == bindparam("status"))
    if shape.assignee:
        query = query.where(Case.assignee_id == bindparam("assignee_id"))
    if shape.search == "reference":
        query = query.where(Case.reference == bindparam("reference"))
    elif shape.search == "identifiers":
        # A join to the matching case ids, not ``Case.id IN (…)``: SQLite (without
        # ANALYZE statistics) ran the IN form by walking every open case in queue order.
        matching = (select(Identifier.case_id)
                    .where(Identifier.normalized.in_(bindparam("searched", expanding=True)))
                    .distinct().subquery())
        query = query.join(matching, matching.c.case_id == Case.id)
    return query


def _statements(shape: _Shape) -> tuple:
    """(the page's rows with the view's two deadline counts, the counts alone) for ``shape``,
    built the first time it is asked for."""
    made = _STATEMENTS.get(shape)
    if made is None:
        base = _filtered(shape)
        order = (Case.priority_rank, Case.queue_due_at, Case.id)
        query = base
        if shape.cursor:
            cursor = tuple_(bindparam("rank", type_=Integer), bindparam("due", type_=_DUE),
                            bindparam("case_id", type_=Integer))
            query = query.where(tuple_(*order) > cursor if shape.cursor == "after"
                                else tuple_(*order) < cursor)
        query = query.order_by(*(column.desc() for column in order) if shape.backwards
                               else order)
        counts = _deadline_count_columns(base, bindparam("moment", type_=_DUE),
                                         bindparam("soon_until", type_=_DUE))
        # The assignee's name as ``User.display_name`` has it (full name, else the e-mail);
        # the view's two deadline counts ride along in each row (uncorrelated scalar
        # subqueries, which SQLite and PostgreSQL work out once per statement): one round
        # trip for the page.
        rows = (query.with_only_columns(*_ROW_COLUMNS, *counts)
                .outerjoin_from(Case, User, User.id == Case.assignee_id)
                .limit(shape.page_size + 1))
        made = _STATEMENTS[shape] = (rows, select(*counts))
    return made


def default_view(identity: Identity) -> str:
    """The tab the queue opens on: the one with urgent work. Unassigned P0/P1 cases come
    before one's own (nobody else is on them), then one's own, then all open cases."""
    urgent = select(Case.id).where(Case.is_open.is_(True), Case.assignee_id.is_(None),
                                   Case.priority_rank <= PRIORITY_RANK["P1"]).limit(1)
    if db.session.scalar(urgent) is not None:
        return "unassigned"
    mine = select(Case.id).where(Case.is_open.is_(True),
                                 Case.assignee_id == identity.user_id).limit(1)
    return "mine" if db.session.scalar(mine) is not None else "open"


def case_queue(identity: Identity, filters: QueueFilters, *, after: str | None = None,
               before: str | None = None, last: bool = False, region: str = "US",
               page_size: int = PAGE_SIZE) -> QueuePage:
    moment = now()
    params: dict = {"moment": moment, "soon_until": moment + DUE_SOON,
                    "user_id": identity.user_id, "category": filters.category,
                    "status": filters.status, "assignee_id": filters.assignee_id}
    searched: list[str] = []
    search = ""
    q = filters.q.strip()
    if q and REFERENCE.match(q):
        search, params["reference"] = "reference", q.upper()
    elif q:
        searched = search_candidates(q, region)
        search, params["searched"] = "identifiers", searched
    cursor = "after" if after else "before" if before else ""
    if cursor:
        params["rank"], params["due"], params["case_id"] = decode_cursor(after or before)
    backwards = bool(before) or last
    rows_statement, counts_statement = _statements(_Shape(
        view=filters.view if filters.view in VIEWS else "open",
        category=bool(filters.category), status=bool(filters.status),
        assignee=bool(filters.assignee_id), search=search, cursor=cursor,
        backwards=backwards, page_size=page_size))
    found = db.session.execute(rows_statement, params).all()
    rows = [_row(values[:-2]) for values in found]
    more = len(rows) > page_size
    rows = rows[:page_size]
    if backwards:
        rows.reverse()
    page = QueuePage(cases=rows, searched_identifiers=searched)
    if rows:
        if backwards:
            page.prev_cursor = encode_cursor(rows[0]) if more else None
            page.next_cursor = encode_cursor(rows[-1]) if not last else None
        else:
            page.next_cursor = encode_cursor(rows[-1]) if more else None
            page.prev_cursor = encode_cursor(rows[0]) if (after or before) else None
    # A page with no rows (an empty view, or past its end) asks for the counts on their own.
    page.counts = _counts(found[0][-2:] if found
                          else db.session.execute(counts_statement, params).one())
    return page


def deadline_counts(base) -> dict[str, int]:
    """Overdue and due-soon among the open cases of this view, each up to COUNT_LIMIT, in one
    statement (two counts in one round trip)."""
    moment = now()
    return _counts(db.session.execute(
        select(*_deadline_count_columns(base, moment, moment + DUE_SOON))).one())


def _deadline_count_columns(base, moment, soon_until) -> tuple:
    """The overdue and due-soon counts of the view ``base`` as two scalar subqueries (the
    moments: values, or bound parameters)."""
    open_cases = base.order_by(None).where(Case.is_open.is_(True))
    return (_count_up_to(open_cases.where(Case.queue_due_at < moment)),
            _count_up_to(open_cases.where(Case.queue_due_at >= moment,
                                          Case.queue_due_at < soon_until)))


def _counts(counted) -> dict[str, int]:
    return {"overdue": int(counted[0] or 0), "due_soon": int(counted[1] or 0)}


def _count_up_to(query):
    """An index range count that stops at COUNT_LIMIT rows: a scalar subquery that never
    correlates with a query it is put in (it counts the whole view, not one row's)."""
    limited = query.with_only_columns(Case.id).limit(COUNT_LIMIT).subquery()
    return select(func.count()).select_from(limited).correlate(None).scalar_subquery()


def deadline_state(case: Case | QueueRow) -> str:
    """'overdue', 'soon' or '' for a row badge."""
    if not case.is_open or case.queue_due_at is None or case.queue_due_at.year >= 9999:
        return ""
    moment = now()
    due = as_utc(case.queue_due_at)
    if due < moment:
        return "overdue"
    if due < moment + DUE_SOON:
        return "soon"
    return ""

