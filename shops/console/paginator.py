"""A changelist paginator for tables too big to count in full."""

from __future__ import annotations

import json
from functools import cached_property

from django.contrib.admin import ShowFacets
from django.contrib.admin.views.main import PAGE_VAR
from django.core.paginator import Paginator

EXACT_COUNT_LIMIT = 10_000  # rows counted exactly; past this the count is PostgreSQL's estimate


class BoundedCountPaginator(Paginator):
    """A true count while it is cheap, an estimate said as one past ``EXACT_COUNT_LIMIT``.

    ``SELECT COUNT(*) FROM (… LIMIT EXACT_COUNT_LIMIT + 1)`` reads at most that many index
    entries of the filtered list; when it reaches the limit, the count is the planner's row
    estimate for the same filtered query (``EXPLAIN``: ``pg_class.reltuples`` scaled by the
    filters' selectivity) and ``estimated`` is True, so pages say "about N".
    ``page_number`` is the page the request asks for.
    """

    def __init__(self, object_list, per_page, *, page_number: int = 1, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.page_number = max(1, page_number)
        self.estimated = False
        self.exact_limit = EXACT_COUNT_LIMIT

    @cached_property
    def count(self) -> int:
        rows = self.object_list.order_by()
        exact = rows[: EXACT_COUNT_LIMIT + 1].count()
        if exact <= EXACT_COUNT_LIMIT:
            return exact
        self.estimated = True
        # never fewer than the rows seen, nor than the page asked for needs
        seen = max(exact, (self.page_number - 1) * self.per_page + 1)
        return max(seen, planned_rows(rows))


def planned_rows(queryset) -> int:
    """The planner's estimate of how many rows ``queryset`` returns (no rows are read)."""
    plan = json.loads(queryset.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


# Past this the OFFSET would leave PostgreSQL's bigint: such a page is answered as the
# admin answers any page past the end (its "invalid page" redirect), never counted.
MAX_PAGE = 10**9


def requested_page(request) -> int:
    try:
        page = int(request.GET.get(PAGE_VAR, 1))
    except ValueError:
        return 1
    return page if page <= MAX_PAGE else 1


class BoundedCountAdminMixin:
    """For the admin of a huge table: a bounded count (or an estimate said as one), no facet
    counts, no "show all"."""

    show_full_result_count = False
    list_max_show_all = 0
    show_facets = ShowFacets.NEVER

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        return BoundedCountPaginator(
            queryset,
            per_page,
            orphans=0,
            allow_empty_first_page=allow_empty_first_page,
            page_number=requested_page(request),
        )
