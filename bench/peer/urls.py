"""The peer's v4 domain list: the portal's view as a DRF user would write it, behind
HasAPIKey, plus the same view with AllowAny (authentication off) for the in-process figure."""

import math

from django.conf import settings
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.peer.models import Domain


class Domains(APIView):
    def get(self, request: Request) -> Response:
        text = request.query_params.get("page", "1")
        if not text.isdigit() or int(text) < 1:
            return Response({"message": "page must be a whole number from 1"}, status=400)
        page, per_page = int(text), settings.PEER_PAGE_SIZE
        domains = Domain.objects.filter(account_id=settings.PEER_ACCOUNT_ID).order_by("name", "id")
        total = domains.count()
        start = (page - 1) * per_page
        data = (
            list(domains.values("id", "name", "status", "note")[start : start + per_page])
            if start < total
            else []
        )
        pagination = {
            "total": total,
            "perPage": per_page,
            "currentPage": page,
            "totalPages": max(1, math.ceil(total / per_page)),
        }
        return Response({"data": data, "meta": {"pagination": pagination}})


class DomainsWithoutAuth(Domains):
    permission_classes = [AllowAny]


urlpatterns = [
    path("api/v4/domains", Domains.as_view()),
    path("api/bench-noauth/v4/domains", DomainsWithoutAuth.as_view()),
]
