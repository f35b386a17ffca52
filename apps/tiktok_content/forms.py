"""The post form, built from what TikTok says this creator may choose (``creator_info``).

Only the privacy levels TikTok lists are offered, none preselected (TikTok asks
that the person choose); the comment, duet and stitch switches appear only
when the creator has not turned them off in TikTok; pulling from a URL only
when URL prefixes are verified on the developer app. The form parses; the
rules themselves are checked again in :mod:`.publishing`.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import PublishJob
from .publishing import TITLE_MAX_LENGTH, Capabilities, CreatorInfo, PostOptions

PRIVACY_LABELS = {
    "PUBLIC_TO_EVERYONE": gettext_lazy("Everyone"),
    "MUTUAL_FOLLOW_FRIENDS": gettext_lazy("Friends (followers you follow back)"),
    "FOLLOWER_OF_CREATOR": gettext_lazy("Followers"),
    "SELF_ONLY": gettext_lazy("Only me"),
}


class PublishForm(forms.Form):
    mode = forms.ChoiceField(
        label=gettext_lazy("How"), choices=PublishJob.Mode.choices, widget=forms.RadioSelect
    )
    video_file = forms.FileField(
        label=gettext_lazy("Video file"),
        required=False,
        help_text=gettext_lazy("MP4, MOV or WebM."),
        widget=forms.ClearableFileInput(attrs={"accept": "video/mp4,video/quicktime,video/webm"}),
    )
    video_url = forms.URLField(
        label=gettext_lazy("Or a video URL"),
        required=False,
        assume_scheme="https",
        max_length=2048,
    )
    title = forms.CharField(
        label=gettext_lazy("Caption"),
        required=False,
        max_length=TITLE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    privacy_level = forms.ChoiceField(
        label=gettext_lazy("Who can see it"), required=False, widget=forms.RadioSelect
    )
    allow_comment = forms.BooleanField(label=gettext_lazy("Allow comments"), required=False)
    allow_duet = forms.BooleanField(label=gettext_lazy("Allow duets"), required=False)
    allow_stitch = forms.BooleanField(label=gettext_lazy("Allow stitches"), required=False)
    brand_organic = forms.BooleanField(
        label=gettext_lazy("Promotes my own brand or business"), required=False
    )
    branded_content = forms.BooleanField(
        label=gettext_lazy("Branded content (a paid partnership)"), required=False
    )

    def __init__(
        self, *args, creator: CreatorInfo | None, capabilities: Capabilities, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.creator = creator
        self.capabilities = capabilities
        modes = []
        if capabilities.direct and creator is not None:
            modes.append((PublishJob.Mode.DIRECT.value, PublishJob.Mode.DIRECT.label))
        if capabilities.inbox:
            modes.append((PublishJob.Mode.INBOX.value, PublishJob.Mode.INBOX.label))
        self.fields["mode"].choices = modes
        self.fields["mode"].initial = modes[0][0] if modes else None
        if not capabilities.can_pull:
            del self.fields["video_url"]
        if creator is None:
            for name in (
                "title",
                "privacy_level",
                "allow_comment",
                "allow_duet",
                "allow_stitch",
                "brand_organic",
                "branded_content",
            ):
                del self.fields[name]
            return
        self.fields["privacy_level"].choices = [
            (level, PRIVACY_LABELS.get(level, level)) for level in creator.privacy_level_options
        ]
        for name, disabled in (
            ("allow_comment", creator.comment_disabled),
            ("allow_duet", creator.duet_disabled),
            ("allow_stitch", creator.stitch_disabled),
        ):
            if disabled:
                del self.fields[name]
        if creator.max_video_post_duration_sec:
            self.fields["video_file"].help_text = _(
                "MP4, MOV or WebM, up to %(seconds)d seconds for this account."
            ) % {"seconds": creator.max_video_post_duration_sec}

    @property
    def switched_off(self) -> list[str]:
        """What the creator turned off in TikTok, said next to the form."""
        if self.creator is None:
            return []
        names = []
        if self.creator.comment_disabled:
            names.append(_("comments"))
        if self.creator.duet_disabled:
            names.append(_("duets"))
        if self.creator.stitch_disabled:
            names.append(_("stitches"))
        return names

    def clean(self) -> dict:
        cleaned = super().clean()
        has_file = bool(cleaned.get("video_file"))
        has_url = bool(cleaned.get("video_url"))
        if has_file == has_url:
            raise forms.ValidationError(
                _("Choose a video file or a video URL.")
                if self.capabilities.can_pull
                else _("Choose a video file.")
            )
        if cleaned.get("mode") == PublishJob.Mode.DIRECT and not cleaned.get("privacy_level"):
            self.add_error("privacy_level", _("Choose who can see the video."))
        return cleaned

    def options(self) -> PostOptions:
        data = self.cleaned_data
        return PostOptions(
            mode=data["mode"],
            title=data.get("title") or "",
            privacy_level=data.get("privacy_level") or "",
            allow_comment=bool(data.get("allow_comment")),
            allow_duet=bool(data.get("allow_duet")),
            allow_stitch=bool(data.get("allow_stitch")),
            brand_organic=bool(data.get("brand_organic")),
            branded_content=bool(data.get("branded_content")),
        )
