"""The Content page (videos, counts and trends; posts and their progress) and publishing.

Thin views: parse, check access, call :mod:`.publishing` or :mod:`.selectors`,
render. Members can look; only tenant admins can publish. Every lookup goes
through ``for_tenant``, so another tenant's id is a 404.

htmx requests get partials (the form, the publish section after a post, one
job polling itself while it runs); plain requests get full pages and
redirects, so publishing works without JavaScript too.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import reswap, retarget

from apps.tenants.access import tenant_admin_required, tenant_member_required

from . import publishing, selectors
from .forms import PublishForm
from .models import PublishJob, TikTokContentConnection

#: The job view looks the job up before checking the method, so another
#: tenant's id is a 404 whatever the method (the isolation sweep posts too).
READ_METHODS = ["GET", "HEAD"]


def _connection(request: HttpRequest) -> TikTokContentConnection | None:
    return TikTokContentConnection.objects.for_tenant(request.tenant).first()


def _is_admin(request: HttpRequest) -> bool:
    return bool(request.membership and request.membership.is_admin)


def _publish_context(request: HttpRequest, connection: TikTokContentConnection | None) -> dict:
    return {
        "connection": connection,
        "capabilities": publishing.publish_capabilities(connection=connection),
        "can_act": _is_admin(request) and connection is not None and connection.is_live,
        "jobs": selectors.recent_publish_jobs(tenant=request.tenant),
        "publish_pack": publishing.PUBLISH_PACK,
    }


@tenant_member_required
@require_GET
def content(request: HttpRequest) -> HttpResponse:
    """Videos with their counts and trends, the posts, and the way to publish."""
    connection = _connection(request)
    context = _publish_context(request, connection)
    context["videos"] = selectors.video_page(
        tenant=request.tenant,
        connection=connection,
        page_number=request.GET.get("page") or 1,
        order=request.GET.get("order", "recent"),
    )
    context["granted"] = set(connection.granted_scopes or []) if connection else set()
    context["creator"] = selectors.card_extras(
        tenant=request.tenant, connections=[connection] if connection else []
    )["creator"]
    return render(request, "tiktok_content/content.html", context)


def _form_context(request: HttpRequest, connection, *, fresh: bool) -> dict:
    """The publish form with the creator's current options, or the reason there is none."""
    context = _publish_context(request, connection)
    capabilities = context["capabilities"]
    creator = None
    if capabilities.direct:
        try:
            creator = publishing.creator_info_for_form(
                connection=connection, store=request.session, fresh=fresh
            )
        except publishing.PublishError as exc:
            context["form_error"] = str(exc)
            return context
    context["creator"] = creator
    context["form"] = PublishForm(creator=creator, capabilities=capabilities)
    return context


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def publish(request: HttpRequest) -> HttpResponse:
    """GET: the form, built from a fresh ``creator_info``. POST: check, store, queue."""
    connection = _connection(request)
    if connection is None or not connection.is_live:
        messages.error(request, _("Connect TikTok Content on the hub first."))
        return redirect(f"{reverse('integrations:hub')}?tab=tiktok")
    capabilities = publishing.publish_capabilities(connection=connection)
    template = (
        "tiktok_content/_publish_form.html" if request.htmx else "tiktok_content/publish.html"
    )
    if request.method == "GET" or not capabilities.can_publish:
        context = _form_context(request, connection, fresh=True)
        return render(request, template, context)

    context = _publish_context(request, connection)
    creator = None
    try:
        if capabilities.direct:
            creator = publishing.creator_info_for_form(connection=connection, store=request.session)
    except publishing.PublishError as exc:
        context["form_error"] = str(exc)
        return render(request, template, context)
    form = PublishForm(request.POST, request.FILES, creator=creator, capabilities=capabilities)
    context.update(creator=creator, form=form)
    if not form.is_valid():
        return render(request, template, context)
    try:
        job = publishing.publish_create(
            connection=connection,
            user=request.user,
            options=form.options(),
            creator=creator,
            upload=form.cleaned_data.get("video_file"),
            video_url=form.cleaned_data.get("video_url") or "",
        )
    except publishing.PublishError as exc:
        form.add_error(None, str(exc))
        return render(request, template, context)
    messages.success(request, _("Post queued: the upload starts in a moment."))
    if request.htmx:
        # The form asked to be replaced; the whole section comes back (the new post polling).
        context = _publish_context(request, connection)
        response = render(request, "tiktok_content/_publish_section.html", context)
        return reswap(retarget(response, "#publish"), "outerHTML")
    return redirect(f"{reverse('tiktok_content:content')}#post-{job.pk}")


@tenant_member_required
def publish_job(request: HttpRequest, pk: int) -> HttpResponse:
    """One post's progress: a partial that polls itself while it runs, a page otherwise."""
    job = get_object_or_404(PublishJob.objects.for_tenant(request.tenant), pk=pk)
    if request.method not in READ_METHODS:
        return HttpResponseNotAllowed(READ_METHODS)
    template = (
        "tiktok_content/_publish_job.html" if request.htmx else "tiktok_content/publish_job.html"
    )
    return render(request, template, {"job": job})
