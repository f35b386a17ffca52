"""Publishing to TikTok (Content Posting API): options, checks, upload, and status until final.

The flow, and why each step is where it is:

1. **Creator options first.** ``creator_info/query`` says which privacy levels
   the creator may use, whether comments, duets and stitches can be allowed,
   and the longest video. TikTok requires asking it before showing the post
   form, so the form offers only those (:func:`creator_info_for_form`). The
   answer is kept in the session for a few minutes, so the POST checks against
   what was shown without a second call.
2. **Checks before any call.** The file's type (declared and sniffed), size,
   duration (MP4/MOV) and chunk layout are checked by :func:`video_file_check`,
   which makes no call: a file TikTok would refuse is refused here, with the
   reason.
3. **A job, then a worker.** :func:`publish_create` stores the file and a
   :class:`~.models.PublishJob`, and queues :func:`publish_execute` after
   commit. The worker claims the job (one conditional UPDATE), calls the init
   endpoint once (never repeated: a second init is a second post), uploads the
   chunks in order with their ``Content-Range``, deletes the stored file, and
   follows the status for a minute.
4. **Status until final.** Processing usually ends within a minute, but
   moderation can take hours, so after the first minute the job is left to the
   every-minute sweep (:func:`publish_sweep`), polled less and less often, and
   given up after :data:`GIVE_UP_AFTER`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, MutableMapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.integrations.http import PermissionDenied, ProviderError, RateLimited, TokenExpired
from apps.integrations.redaction import redact_text
from apps.integrations.scheduling import enqueue

from . import media
from .client import (
    VIDEO_CONTENT_TYPES,
    ChunkPlan,
    TikTokContentClient,
    UploadRuleError,
    chunk_plan,
)
from .models import PublishJob, TikTokContentConnection

logger = logging.getLogger(__name__)

#: Scope of a direct post and of ``creator_info`` (contract §4.3).
PUBLISH_SCOPE = "video.publish"
#: Scope of a draft sent to the creator's inbox.
UPLOAD_SCOPE = "video.upload"
PUBLISH_PACK = "content_publish"
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
#: ``post_info.title``: TikTok takes up to 2200 characters (UTF-16 units).
TITLE_MAX_LENGTH = 2200

# The creator's options are asked before the form is shown; the POST trusts the
# answer this long (the form is filled in minutes, and the options rarely change).
CREATOR_INFO_MAX_AGE = timedelta(minutes=10)
SESSION_KEY = "tiktok_content:creator_info:{pk}"

# Right after the upload the worker asks for the status every few seconds for a
# minute (status/fetch allows 30 calls a minute per token: 15 leaves room for a
# second post at the same time) ...
FAST_POLL_SECONDS = 4.0
FAST_TRACK_SECONDS = 60.0
# ... then the sweep polls at a quarter of the job's age, between these bounds ...
SLOW_POLL_MIN = timedelta(seconds=30)
SLOW_POLL_MAX = timedelta(minutes=10)
# ... and gives up after a day: public posts wait for moderation, rarely that long.
GIVE_UP_AFTER = timedelta(hours=24)
# A poll claims its job this long, so the sweep and a worker never poll it twice at once.
POLL_LEASE = timedelta(minutes=2)
# A job "uploading" without progress for this long lost its worker (restart, crash).
STALE_UPLOAD = timedelta(minutes=15)
# A queued job not picked up within this is queued again (the claim makes it safe).
REQUEUE_AFTER = timedelta(minutes=5)

#: Progress shown while TikTok processes the uploaded file (the upload took 0-90).
UPLOAD_PROGRESS_SHARE = 90
PROCESSING_PROGRESS = 95

#: TikTok's statuses (contract §4.3) and what they mean for the job.
FINAL_OK = {"PUBLISH_COMPLETE", "SEND_TO_USER_INBOX"}
FAILED = "FAILED"

#: The largest file accepted. Not in the contract: TikTok's upload guide caps
#: videos at 4 GB; ``TIKTOK_CONTENT_MAX_VIDEO_BYTES`` changes it.
DEFAULT_MAX_VIDEO_BYTES = 4 * 1024 * 1024 * 1024
EXTENSION_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm"}
#: Bytes read to recognise the container.
SNIFF_BYTES = 16


class PublishError(Exception):
    """A post the hub refuses, or TikTok refused; the message is for the person posting."""


# --- settings -----------------------------------------------------------------------------


def _setting(name: str, default: Any) -> Any:
    """A knob from Django settings, else the environment (12-factor), else the default."""
    if hasattr(settings, name):
        return getattr(settings, name)
    return os.environ.get(name, default)


def pull_url_prefixes() -> list[str]:
    """URL prefixes (or domains) verified on the developer app for ``PULL_FROM_URL``.

    Empty means pulling is not allowed: TikTok would answer ``url_ownership_unverified``.
    """
    value = _setting("TIKTOK_CONTENT_PULL_FROM_URL_PREFIXES", ())
    if isinstance(value, str):
        value = value.split(",")
    return [str(prefix).strip() for prefix in value if str(prefix).strip()]


def max_video_bytes() -> int:
    return int(_setting("TIKTOK_CONTENT_MAX_VIDEO_BYTES", DEFAULT_MAX_VIDEO_BYTES))


def preferred_chunk_bytes() -> int:
    from .client import DEFAULT_CHUNK_BYTES

    return int(_setting("TIKTOK_CONTENT_CHUNK_BYTES", DEFAULT_CHUNK_BYTES))


# --- what the connection allows ------------------------------------------------------------


@dataclass(frozen=True)
class Capabilities:
    """What this connection may do, from its granted scopes and the app's settings."""

    direct: bool
    inbox: bool
    pull_prefixes: tuple[str, ...]

    @property
    def can_publish(self) -> bool:
        return self.direct or self.inbox

    @property
    def can_pull(self) -> bool:
        return bool(self.pull_prefixes)


def publish_capabilities(*, connection: TikTokContentConnection | None) -> Capabilities:
    granted = set(connection.granted_scopes or []) if connection and connection.is_live else set()
    return Capabilities(
        direct=PUBLISH_SCOPE in granted,
        inbox=UPLOAD_SCOPE in granted,
        pull_prefixes=tuple(pull_url_prefixes()),
    )


@dataclass(frozen=True)
class CreatorInfo:
    """``creator_info/query``: what the post form may offer this creator."""

    username: str
    nickname: str
    avatar_url: str
    privacy_level_options: tuple[str, ...]
    comment_disabled: bool
    duet_disabled: bool
    stitch_disabled: bool
    max_video_post_duration_sec: int | None
    fetched_at: datetime = field(default_factory=timezone.now)

    @classmethod
    def from_answer(cls, data: dict[str, Any]) -> CreatorInfo:
        options = tuple(
            str(level) for level in data.get("privacy_level_options") or [] if str(level)
        )
        try:
            max_duration = int(data["max_video_post_duration_sec"])
        except (KeyError, TypeError, ValueError):
            max_duration = None
        return cls(
            username=str(data.get("creator_username") or ""),
            nickname=str(data.get("creator_nickname") or ""),
            avatar_url=str(data.get("creator_avatar_url") or ""),
            privacy_level_options=options,
            comment_disabled=bool(data.get("comment_disabled")),
            duet_disabled=bool(data.get("duet_disabled")),
            stitch_disabled=bool(data.get("stitch_disabled")),
            max_video_post_duration_sec=max_duration,
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["privacy_level_options"] = list(self.privacy_level_options)
        data["fetched_at"] = self.fetched_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CreatorInfo:
        return cls(
            **{
                **data,
                "privacy_level_options": tuple(data["privacy_level_options"]),
                "fetched_at": datetime.fromisoformat(data["fetched_at"]),
            }
        )


def _permission_message() -> str:
    return _(
        "Publishing needs the Publishing pack (video.publish, video.upload). "
        "Reconnect TikTok Content on the hub with that pack ticked."
    )


def creator_info_query(*, connection: TikTokContentConnection) -> CreatorInfo:
    """Ask TikTok for the creator's posting options (one call; 20 a minute per token)."""
    from .services import client_for

    if not publish_capabilities(connection=connection).direct:
        raise PublishError(_permission_message())
    try:
        with client_for(connection) as client:
            return CreatorInfo.from_answer(client.creator_info())
    except PermissionDenied as exc:
        raise PublishError(_permission_message()) from exc
    except RateLimited as exc:
        raise PublishError(
            _("TikTok asks to wait before reading the posting options again. Try in a minute.")
        ) from exc
    except ProviderError as exc:
        raise PublishError(
            _("TikTok did not give the posting options: %(error)s") % {"error": exc}
        ) from exc


def creator_info_for_form(
    *,
    connection: TikTokContentConnection,
    store: MutableMapping[str, Any],
    fresh: bool = False,
) -> CreatorInfo:
    """The options to build the form with: asked again when ``fresh`` or older than
    :data:`CREATOR_INFO_MAX_AGE`, else the copy kept in ``store`` (the session)."""
    key = SESSION_KEY.format(pk=connection.pk)
    kept = store.get(key)
    if kept and not fresh:
        try:
            info = CreatorInfo.from_json(kept)
        except (KeyError, TypeError, ValueError):
            info = None
        if info is not None and timezone.now() - info.fetched_at < CREATOR_INFO_MAX_AGE:
            return info
    info = creator_info_query(connection=connection)
    store[key] = info.to_json()
    return info


# --- checks (no call) ---------------------------------------------------------------------


@dataclass(frozen=True)
class PostOptions:
    """What the person chose in the form."""

    mode: str = PublishJob.Mode.DIRECT
    title: str = ""
    privacy_level: str = ""
    allow_comment: bool = False
    allow_duet: bool = False
    allow_stitch: bool = False
    brand_organic: bool = False
    branded_content: bool = False


def post_options_check(*, options: PostOptions, creator: CreatorInfo | None) -> dict[str, Any]:
    """``post_info`` for the init call, or :class:`PublishError` when the options are not offered.

    An interaction the creator switched off in TikTok is sent disabled whatever
    the form said.
    """
    if options.mode == PublishJob.Mode.INBOX:
        return {}  # the creator finishes the post in the TikTok app
    if creator is None or options.privacy_level not in creator.privacy_level_options:
        raise PublishError(
            _("Choose who can see the video among the options TikTok offers for this account.")
        )
    if len(options.title) > TITLE_MAX_LENGTH:
        raise PublishError(
            _("The caption is longer than %(max)d characters.") % {"max": TITLE_MAX_LENGTH}
        )
    if options.branded_content and options.privacy_level == "SELF_ONLY":
        raise PublishError(_("Branded content cannot be private: choose another audience."))
    return {
        "title": options.title,
        "privacy_level": options.privacy_level,
        "disable_comment": creator.comment_disabled or not options.allow_comment,
        "disable_duet": creator.duet_disabled or not options.allow_duet,
        "disable_stitch": creator.stitch_disabled or not options.allow_stitch,
        "brand_organic_toggle": options.brand_organic,
        "brand_content_toggle": options.branded_content,
    }


def content_type_of(*, name: str, declared: str) -> str:
    """The video's ``Content-Type``: the browser's when TikTok takes it, else by extension."""
    declared = (declared or "").split(";")[0].strip().lower()
    if declared in VIDEO_CONTENT_TYPES:
        return declared
    return EXTENSION_TYPES.get(os.path.splitext(name or "")[1].lower(), "")


def video_file_check(
    *,
    stream: BinaryIO,
    size: int,
    name: str,
    declared_type: str,
    max_duration: int | None,
) -> tuple[str, ChunkPlan]:
    """``(content_type, chunk plan)`` for a file TikTok will take, else :class:`PublishError`.

    Makes no call. Checks, in order: a type TikTok takes (MP4, MOV, WebM), that
    the bytes are that container, the size (not empty, at most
    ``TIKTOK_CONTENT_MAX_VIDEO_BYTES``), a chunk layout within the media
    transfer rules, and for MP4/MOV the duration against the creator's maximum.
    """
    content_type = content_type_of(name=name, declared=declared_type)
    if not content_type:
        raise PublishError(_("TikTok takes MP4, MOV or WebM videos only."))
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    if size <= 0 or not head:
        raise PublishError(_("The file is empty."))
    if not media.container_matches(content_type, head):
        raise PublishError(
            _("This file is not a valid %(kind)s video.")
            % {"kind": content_type.split("/")[1].upper().replace("QUICKTIME", "MOV")}
        )
    limit = max_video_bytes()
    if size > limit:
        raise PublishError(
            _("The file is %(size)s; TikTok takes videos up to %(max)s.")
            % {"size": _human_bytes(size), "max": _human_bytes(limit)}
        )
    try:
        plan = chunk_plan(size, chunk_size=preferred_chunk_bytes())
    except UploadRuleError as exc:
        raise PublishError(str(exc)) from exc
    if max_duration and content_type in media.MP4_FAMILY:
        seconds = media.iso_duration_seconds(stream)
        if seconds is not None and seconds > max_duration:
            raise PublishError(
                _("The video lasts %(seconds)d seconds; this account can post up to %(max)d.")
                % {"seconds": round(seconds), "max": max_duration}
            )
    return content_type, plan


def video_url_check(*, url: str, prefixes: list[str] | tuple[str, ...]) -> str:
    """The URL, if it is https and under a prefix verified on the developer app."""
    url = (url or "").strip()
    if not url.startswith("https://"):
        raise PublishError(_("The video URL must start with https://."))
    if not any(url.startswith(prefix) for prefix in prefixes):
        raise PublishError(
            _(
                "TikTok only pulls videos from URL prefixes verified on the developer app: "
                "%(prefixes)s."
            )
            % {"prefixes": ", ".join(prefixes) or _("none yet")}
        )
    return url


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


# --- create ---------------------------------------------------------------------------------


def publish_create(
    *,
    connection: TikTokContentConnection,
    user: AbstractBaseUser | None,
    options: PostOptions,
    creator: CreatorInfo | None,
    upload: UploadedFile | None = None,
    video_url: str = "",
) -> PublishJob:
    """Check everything, store the file and the job, queue the worker after commit.

    Exactly one of ``upload`` and ``video_url``. ``creator`` may be None only
    for an inbox draft (``creator_info`` needs ``video.publish``). Raises
    :class:`PublishError` before anything is stored or sent.
    """
    capabilities = publish_capabilities(connection=connection)
    needed = capabilities.inbox if options.mode == PublishJob.Mode.INBOX else capabilities.direct
    if not needed:
        raise PublishError(_permission_message())
    post_info = post_options_check(options=options, creator=creator)
    job = PublishJob(
        tenant_id=connection.tenant_id,
        connection=connection,
        created_by=user,
        mode=options.mode,
        options={**asdict(options), "post_info": post_info},
    )
    if upload is not None and not video_url:
        content_type, plan = video_file_check(
            stream=upload,
            size=upload.size or 0,
            name=upload.name or "",
            declared_type=upload.content_type or "",
            max_duration=creator.max_video_post_duration_sec if creator else None,
        )
        job.source = PublishJob.Source.FILE_UPLOAD
        job.file_name = os.path.basename(upload.name or "")[:255]
        job.content_type = content_type
        job.video_size = plan.video_size
        job.chunk_size = plan.chunk_size
        job.total_chunk_count = plan.total_chunk_count
    elif video_url and upload is None:
        job.source = PublishJob.Source.PULL_FROM_URL
        job.video_url = video_url_check(url=video_url, prefixes=capabilities.pull_prefixes)
    else:
        raise PublishError(_("Choose a video file or a video URL, not both."))
    with transaction.atomic():
        if upload is not None:
            upload.seek(0)
            job.video_file.save(upload.name or "video", upload, save=False)
        job.save()
        enqueue("apps.tiktok_content.tasks.run_publish", job.pk)
    logger.info(
        "tiktok_content publish queued job=%s tenant=%s source=%s size=%s chunks=%s",
        job.pk,
        job.tenant_id,
        job.source,
        job.video_size,
        job.total_chunk_count,
    )
    return job


# --- execute ----------------------------------------------------------------------------------


def _save(job: PublishJob, **fields: Any) -> None:
    """Set and write only ``fields`` (and ``updated_at``)."""
    for name, value in fields.items():
        setattr(job, name, value)
    job.updated_at = timezone.now()
    PublishJob.objects.filter(pk=job.pk).update(**fields, updated_at=job.updated_at)


def _fail(job: PublishJob, message: str, *, fail_reason: str = "") -> PublishJob:
    _save(
        job,
        status=PublishJob.Status.FAILED,
        error=redact_text(message)[:1000],
        fail_reason=fail_reason[:128],
        next_poll_at=None,
        finished_at=timezone.now(),
    )
    _drop_file(job)
    logger.warning("tiktok_content publish failed job=%s reason=%s", job.pk, fail_reason or "hub")
    return job


def _drop_file(job: PublishJob) -> None:
    """The stored file is only a waiting room: gone once TikTok has it (or never will)."""
    if job.video_file:
        try:
            job.video_file.delete(save=False)
        except OSError:
            logger.warning("tiktok_content publish job=%s: stored file not deleted", job.pk)
        PublishJob.objects.filter(pk=job.pk).update(video_file="")


#: Provider codes with a sentence of their own (the rest show TikTok's message).
INIT_MESSAGES: dict[str, Callable[[], str]] = {
    "url_ownership_unverified": lambda: _(
        "TikTok can only pull videos from a domain or URL prefix verified on the developer app."
    ),
    "spam_risk_too_many_posts": lambda: _(
        "TikTok refused the post: this account has posted too much today. Try again tomorrow."
    ),
    "unaudited_client_can_only_post_to_private_accounts": lambda: _(
        "Until TikTok audits this app, posts can only be private (Only me)."
    ),
}


def _init_error_message(exc: ProviderError) -> str:
    if isinstance(exc, PermissionDenied):
        return _permission_message()
    if isinstance(exc, RateLimited):
        return _("TikTok allows a few posts a minute per account: publish again in a minute.")
    if isinstance(exc, TokenExpired):
        return _("The authorization expired and could not be renewed: reconnect TikTok Content.")
    special = INIT_MESSAGES.get(exc.code)
    if special is not None:
        return special()
    return _("TikTok refused the post: %(error)s") % {"error": exc}


def publish_execute(
    *,
    job_id: int,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> PublishJob | None:
    """The worker's part: init, upload every chunk in order, then follow the status a minute.

    Only the worker that moves the job from ``queued`` to ``uploading`` runs it;
    a second delivery of the task finds nothing to do.
    """
    now = timezone.now()
    claimed = PublishJob.objects.filter(pk=job_id, status=PublishJob.Status.QUEUED).update(
        status=PublishJob.Status.UPLOADING, started_at=now, updated_at=now
    )
    job = PublishJob.objects.select_related("connection__tenant").filter(pk=job_id).first()
    if not claimed or job is None:
        return job
    connection = job.connection
    if not connection.is_live:
        return _fail(job, _("TikTok Content was disconnected before the post was sent."))
    from .services import client_for

    with client_for(connection) as client:
        try:
            answer = _init(client, job)
        except ProviderError as exc:
            return _fail(job, _init_error_message(exc), fail_reason=exc.code)
        publish_id = str(answer.get("publish_id") or "")
        if not publish_id:
            return _fail(job, _("TikTok accepted the post but sent no publish id."))
        _save(job, publish_id=publish_id)
        if job.source == PublishJob.Source.FILE_UPLOAD:
            upload_url = str(answer.get("upload_url") or "")
            if not upload_url:
                return _fail(job, _("TikTok sent no upload address."))
            try:
                _upload(client, job, upload_url)
            except (ProviderError, UploadRuleError, OSError) as exc:
                return _fail(
                    job,
                    _("The upload was refused: %(error)s") % {"error": exc},
                    fail_reason=getattr(exc, "code", ""),
                )
        _drop_file(job)
        _save(
            job,
            status=PublishJob.Status.PROCESSING,
            progress=PROCESSING_PROGRESS,
            uploaded_at=timezone.now(),
            # the sweep keeps away while this worker follows the status
            next_poll_at=timezone.now() + timedelta(seconds=FAST_TRACK_SECONDS) + POLL_LEASE,
        )
        logger.info("tiktok_content publish sent job=%s publish_id=%s", job.pk, publish_id)
        return publish_track(job=job, client=client, sleep=sleep, clock=clock)


def _init(client: TikTokContentClient, job: PublishJob) -> dict[str, Any]:
    if job.source == PublishJob.Source.FILE_UPLOAD:
        source_info = ChunkPlan(
            job.video_size or 0, job.chunk_size or 0, job.total_chunk_count or 0
        ).source_info()
    else:
        source_info = {"source": "PULL_FROM_URL", "video_url": job.video_url}
    if job.mode == PublishJob.Mode.INBOX:
        return client.inbox_video_init(source_info=source_info)
    return client.publish_video_init(
        post_info=job.options.get("post_info") or {}, source_info=source_info
    )


def _upload(client: TikTokContentClient, job: PublishJob, upload_url: str) -> None:
    plan = ChunkPlan(job.video_size or 0, job.chunk_size or 0, job.total_chunk_count or 0)

    def progressed(sent: int) -> None:
        _save(
            job,
            uploaded_bytes=sent,
            progress=int(sent * UPLOAD_PROGRESS_SHARE / max(plan.video_size, 1)),
        )

    with job.video_file.open("rb") as stream:
        client.upload_file(
            upload_url=upload_url,
            stream=stream,
            plan=plan,
            content_type=job.content_type,
            on_chunk=progressed,
        )


# --- status -----------------------------------------------------------------------------------


def _apply_status(job: PublishJob, data: dict[str, Any]) -> PublishJob:
    """Turn one ``status/fetch`` answer into the job's state."""
    status = str(data.get("status") or "")
    now = timezone.now()
    fields: dict[str, Any] = {"provider_status": status[:32], "polls": job.polls + 1, "error": ""}
    if status in FINAL_OK:
        post_ids = [str(i) for i in data.get("publicaly_available_post_id") or [] if i]
        fields.update(
            status=PublishJob.Status.COMPLETE,
            progress=100,
            post_ids=post_ids,
            finished_at=now,
            next_poll_at=None,
        )
        logger.info("tiktok_content publish complete job=%s status=%s", job.pk, status)
    elif status == FAILED:
        reason = str(data.get("fail_reason") or "")
        fields.update(
            status=PublishJob.Status.FAILED,
            fail_reason=reason[:128],
            error=_("TikTok could not publish the video (%(reason)s).")
            % {"reason": reason or _("no reason given")},
            finished_at=now,
            next_poll_at=None,
        )
        logger.warning("tiktok_content publish failed job=%s fail_reason=%s", job.pk, reason)
    else:
        fields["status"] = PublishJob.Status.PROCESSING
        fields["progress"] = max(job.progress, PROCESSING_PROGRESS)
    _save(job, **fields)
    return job


def publish_poll(*, job: PublishJob, client: TikTokContentClient | None = None) -> PublishJob:
    """Ask TikTok once for the job's status and record it.

    Throttling and transient errors leave the job processing (the next poll
    tries again); a lost permission fails it.
    """
    from .services import client_for

    own_client = client is None
    client = client or client_for(job.connection)
    try:
        data = client.publish_status(publish_id=job.publish_id)
    except PermissionDenied as exc:
        return _fail(job, _permission_message(), fail_reason=exc.code)
    except ProviderError as exc:
        _save(job, error=redact_text(str(exc))[:1000], polls=job.polls + 1)
        logger.warning(
            "tiktok_content publish status failed job=%s code=%s", job.pk, exc.code or "-"
        )
        return job
    finally:
        if own_client:
            client.close()
    return _apply_status(job, data)


def _next_poll(job: PublishJob, now: datetime) -> datetime:
    age = now - (job.uploaded_at or job.created_at or now)
    return now + min(max(age / 4, SLOW_POLL_MIN), SLOW_POLL_MAX)


def publish_track(
    *,
    job: PublishJob,
    client: TikTokContentClient | None = None,
    seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> PublishJob:
    """Poll every :data:`FAST_POLL_SECONDS` for ``seconds`` (default a minute), then hand
    the job to the sweep with its next poll time."""
    seconds = FAST_TRACK_SECONDS if seconds is None else seconds
    deadline = clock() + seconds
    while True:
        job = publish_poll(job=job, client=client)
        if not job.is_active or clock() + FAST_POLL_SECONDS > deadline:
            break
        sleep(FAST_POLL_SECONDS)
    if job.is_active:
        _save(job, next_poll_at=_next_poll(job, timezone.now()))
    return job


def publish_poll_due(*, job_id: int) -> PublishJob | None:
    """The sweep's task: claim a due job (one conditional UPDATE), poll it once, schedule the next."""
    now = timezone.now()
    claimed = PublishJob.objects.filter(
        pk=job_id, status=PublishJob.Status.PROCESSING, next_poll_at__lte=now
    ).update(next_poll_at=now + POLL_LEASE)
    job = PublishJob.objects.select_related("connection__tenant").filter(pk=job_id).first()
    if not claimed or job is None:
        return job
    if now - (job.uploaded_at or job.created_at) > GIVE_UP_AFTER:
        return _fail(
            job,
            _("TikTok did not finish processing within %(hours)d hours: check the TikTok app.")
            % {"hours": GIVE_UP_AFTER.total_seconds() // 3600},
        )
    if not job.connection.is_live:
        return _fail(job, _("TikTok Content was disconnected: the status can no longer be read."))
    job = publish_poll(job=job)
    if job.is_active:
        _save(job, next_poll_at=_next_poll(job, timezone.now()))
    return job


def publish_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Every minute: queue a poll per due job, re-queue lost jobs, fail stalled uploads."""
    now = now or timezone.now()
    due = list(
        PublishJob.objects.filter(
            status=PublishJob.Status.PROCESSING, next_poll_at__lte=now
        ).values_list("pk", flat=True)
    )
    for job_id in due:
        enqueue("apps.tiktok_content.tasks.poll_publish", job_id)
    lost = list(
        PublishJob.objects.filter(
            status=PublishJob.Status.QUEUED, created_at__lt=now - REQUEUE_AFTER
        ).values_list("pk", flat=True)
    )
    for job_id in lost:
        enqueue("apps.tiktok_content.tasks.run_publish", job_id)
    stalled = 0
    for job in PublishJob.objects.filter(
        status=PublishJob.Status.UPLOADING, updated_at__lt=now - STALE_UPLOAD
    ):
        _fail(job, _("The upload stopped before the end (the worker restarted). Publish again."))
        stalled += 1
    return {"polls": len(due), "requeued": len(lost), "stalled": stalled}
