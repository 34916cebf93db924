"""The v1 product registry: list and filter, register (local path, STAC item, CDSE product),
scan the data root, detail, delete with files. Views validate, call one service, serialize."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from s2render.web.api.auth import LocalUserAuthentication
from s2render.web.api.v1.filters import ProductFilter
from s2render.web.api.v1.serializers import (
    ProductRegisterSerializer,
    ProductScanSerializer,
    ProductSerializer,
    ScanReportSerializer,
)
from s2render.web.api.v1.views import errors
from s2render.web.errors import NotFoundError
from s2render.web.products import downloads, services
from s2render.web.products.models import Product
from s2render.web.products.selectors import product_list


def _may_manage(request: Request) -> bool:
    """Staff, or the local user of the single-user mode (a request no credential identified)."""
    return bool(
        request.user.is_staff
        or isinstance(request.successful_authenticator, LocalUserAuthentication)
    )


class ProductListView(mixins.ListModelMixin, GenericAPIView):
    """Registered products, shared by every user. Any authenticated user may register one: a
    local SAFE folder or zip under the data root, a STAC item, or a CDSE product to fetch."""

    filterset_class = ProductFilter

    def get_queryset(self):
        return product_list()

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return ProductRegisterSerializer
        return ProductSerializer

    @extend_schema(summary="List products (filter by tile, date range, cloud cover, level, bbox)")
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        summary="Register a product: a local path, a STAC item, or a CDSE product",
        description="Exactly one of `path` (a SAFE folder or zip under the configured data root "
        "S2RENDER_DATA_DIR; any other path is refused), `item` (a STAC item with COG assets: "
        "its URL, a JSON file under the data root, or the item; read over HTTP range requests, "
        "never downloaded whole) or `remote` (a Copernicus Data Space Ecosystem product name, "
        "fetched when a job first needs it). Registering again refreshes the record.",
        request=ProductRegisterSerializer,
        responses={201: ProductSerializer, **errors(400)},
    )
    def post(self, request: Request) -> Response:
        serializer = ProductRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("path"):
            product = services.product_register(path=data["path"])
        elif data.get("item") is not None:
            product = services.product_register_stac(
                item=data["item"], offset_override=data.get("offset_override")
            )
        else:
            product = downloads.product_register_remote(name=data["remote"])
        body = ProductSerializer(product, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["url"]})


class ProductScanView(GenericAPIView):
    serializer_class = ProductScanSerializer

    @extend_schema(
        summary="Scan the data root and register every SAFE folder and zip found",
        description="Products that do not parse are listed under `skipped` with the reason and "
        "are not registered. The output folder is not searched.",
        request=ProductScanSerializer,
        responses={200: ScanReportSerializer, **errors(400)},
    )
    def post(self, request: Request) -> Response:
        serializer = ProductScanSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        report = services.product_scan(root=serializer.validated_data.get("root"))
        context = self.get_serializer_context()
        return Response(
            {
                "registered": ProductSerializer(report.registered, many=True, context=context).data,
                "skipped": [{"path": p, "reason": r} for p, r in report.skipped],
            }
        )


class ProductDetailView(GenericAPIView):
    serializer_class = ProductSerializer

    def get_queryset(self):
        return product_list()

    def get_object(self) -> Product:
        pk = str(self.kwargs["pk"])
        product = self.get_queryset().filter(pk=int(pk)).first() if pk.isdigit() else None
        if product is None:
            raise NotFoundError(f"no product {pk!r} (GET /api/v1/products/ lists them)")
        return product

    @extend_schema(
        summary="One product: bands per resolution, level, baseline, date, cloud cover, footprint",
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={200: ProductSerializer, **errors(404)},
    )
    def get(self, request: Request, pk: str) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="Remove a product and its files",
        description="Deletes the product's files under the data root (its SAFE folder or zip, "
        "its download, its STAC item copy). Refused (409) while a queued or running job uses it "
        "or while it downloads. A product that ended jobs still refer to keeps its record "
        "(state `missing`, 200 with the record); otherwise the record goes too (204). Staff, or "
        "the local user of a single-user install.",
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={200: ProductSerializer, 204: None, **errors(404, 409)},
    )
    def delete(self, request: Request, pk: str) -> Response:
        product = self.get_object()
        if not _may_manage(request):
            raise PermissionDenied("only staff may remove products (they are shared)")
        if services.product_delete(product=product):
            return Response(status=status.HTTP_204_NO_CONTENT)
        product.refresh_from_db()
        return Response(self.get_serializer(product).data)
