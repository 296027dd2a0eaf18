"""A changelist paginator for tables too big to count."""

from __future__ import annotations

from functools import cached_property

from django.contrib.admin import ShowFacets
from django.contrib.admin.views.main import PAGE_VAR
from django.core.paginator import Paginator


class BoundedCountPaginator(Paginator):
    """Counts only as far as the next page: ``SELECT COUNT(*) FROM (… LIMIT per_page + 1)``.

    The admin learns there is a next page without counting millions of rows; its page links
    stop one page past the current one. ``page_number`` is the page the request asks for.
    """

    def __init__(self, object_list, per_page, *, page_number: int = 1, **kwargs) -> None:
        super().__init__(object_list, per_page, **kwargs)
        self.page_number = max(1, page_number)

    @cached_property
    def count(self) -> int:
        offset = (self.page_number - 1) * self.per_page
        window = self.object_list.order_by()[offset : offset + self.per_page + 1]
        return offset + window.count()


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
    """For the admin of a huge table: no full count, no facet counts, no "show all"."""

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
