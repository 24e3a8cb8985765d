"""WeChat state: accounts, the shared token, uploaded media, broadcast jobs, callback events."""

from __future__ import annotations

from tortoise import fields

from storage.model_base import Model
from storage.models import Organization


class WechatAccount(Model):
    """An organization's official account (公众号) and how Gongkai publishes to it."""

    id = fields.IntField(primary_key=True)
    organization: fields.OneToOneRelation[Organization] = fields.OneToOneField(
        "models.Organization", related_name="wechat_account", on_delete=fields.CASCADE
    )
    organization_id: int
    app_id = fields.CharField(max_length=32, unique=True)
    app_secret_sealed = fields.TextField()
    original_id = fields.CharField(max_length=32, default="")  # gh_…, the ToUserName
    api_base = fields.CharField(max_length=300, default="")  # empty: the server's setting
    kind = fields.CharField(max_length=16, default="subscription")  # or service
    mode = fields.CharField(max_length=16, default="broadcast")  # or publish
    tag_id = fields.IntField(null=True)  # None: every follower
    slot_time = fields.CharField(max_length=5, default="18:00")  # Asia/Shanghai
    allow_publish_fallback = fields.BooleanField(default=False)
    callback_token_sealed = fields.TextField(default="")
    aes_key_sealed = fields.TextField(default="")
    author = fields.CharField(max_length=16, default="")
    cover_file = fields.CharField(max_length=300, default="")
    preview_openid = fields.CharField(max_length=64, default="")
    welcome_text = fields.TextField(default="")
    keywords: list[str] = fields.JSONField(default=list)
    default_reply = fields.TextField(default="")
    enabled = fields.BooleanField(default=True)
    # Set when WeChat refused an API for lack of permission (48001): the account's
    # deliveries wait until an administrator changes the settings or presses "test".
    paused_reason = fields.TextField(default="")
    paused_at = fields.DatetimeField(null=True)
    # How WeChat counts title, author and digest for this account (the documented 32
    # characters; some accounts are held to UTF-8 bytes).
    title_limit = fields.IntField(default=32)
    limit_unit = fields.CharField(max_length=8, default="chars")
    callback_verified_at = fields.DatetimeField(null=True)  # WeChat's last URL verification
    last_test_at = fields.DatetimeField(null=True)  # the last "test connection" and its answer
    last_test_ok = fields.BooleanField(default=False)
    last_test_message = fields.TextField(default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "wechat_account"


class WechatToken(Model):
    """The one access_token every worker shares, and the lock that guards refreshing it."""

    id = fields.IntField(primary_key=True)
    app_id = fields.CharField(max_length=32, unique=True)
    token = fields.TextField(default="")
    expires_at = fields.DatetimeField(null=True)
    lock_owner = fields.CharField(max_length=64, null=True)
    lock_expires_at = fields.DatetimeField(null=True)
    forced_at = fields.DatetimeField(null=True)  # last force_refresh, shared rate limit

    class Meta:
        table = "wechat_token"


class WechatMedia(Model):
    """An image uploaded once per account, found again by its content hash."""

    id = fields.IntField(primary_key=True)
    app_id = fields.CharField(max_length=32)
    sha256 = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=16)
    media_id = fields.CharField(max_length=128, null=True)
    url = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "wechat_media"
        unique_together = (("app_id", "sha256", "kind"),)


class WechatJob(Model):
    """One commit to WeChat for a batch of deliveries: a broadcast or a free publish."""

    id = fields.IntField(primary_key=True)
    batch_key = fields.CharField(max_length=32, unique=True)  # also the clientmsgid
    app_id = fields.CharField(max_length=32, db_index=True)
    mode = fields.CharField(max_length=16)
    local_date = fields.DateField()  # Asia/Shanghai day of the commit, for quotas
    delivery_ids: list[int] = fields.JSONField(default=list)  # in article order
    urgent = fields.BooleanField(default=False)  # waits for the quota reset, not the slot
    draft_media_id = fields.CharField(max_length=128, null=True)
    commit_started_at = fields.DatetimeField(null=True)
    msg_id = fields.CharField(max_length=32, null=True, db_index=True)
    msg_data_id = fields.CharField(max_length=32, null=True)
    publish_id = fields.CharField(max_length=32, null=True, db_index=True)
    article_id = fields.CharField(max_length=128, null=True)
    status = fields.CharField(max_length=16, default="drafting")
    platform_status = fields.CharField(max_length=64, default="")
    article_urls: list[str] = fields.JSONField(default=list)
    fail_idx: list[int] = fields.JSONField(default=list)
    total_count = fields.IntField(null=True)
    filter_count = fields.IntField(null=True)
    sent_count = fields.IntField(null=True)
    error_count = fields.IntField(null=True)
    last_polled_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "wechat_job"


class WechatEvent(Model):
    """A callback WeChat sent, stored before it is answered, so that retries dedupe here."""

    id = fields.IntField(primary_key=True)
    app_id = fields.CharField(max_length=32)
    dedupe_key = fields.CharField(max_length=128, unique=True)
    kind = fields.CharField(max_length=32)
    payload: dict[str, object] = fields.JSONField(default=dict)
    received_at = fields.DatetimeField(auto_now_add=True)
    processed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "wechat_event"


class WechatPreviewRecipient(Model):
    """An openid an administrator registered to receive previews of items not yet
    released: a reviewer phone, used before signing the 保密审查."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="wechat_preview_recipients", on_delete=fields.CASCADE
    )
    organization_id: int
    openid = fields.CharField(max_length=64)
    name = fields.CharField(max_length=32, default="")
    added_by = fields.CharField(max_length=64, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "wechat_preview_recipient"
        unique_together = (("organization", "openid"),)


class WechatCallbackNonce(Model):
    """A (timestamp, nonce) pair a signed callback used, kept while its signature would
    still be accepted, so a replayed request is recognised and refused."""

    id = fields.IntField(primary_key=True)
    app_id = fields.CharField(max_length=32)
    timestamp = fields.CharField(max_length=16)
    nonce = fields.CharField(max_length=64)
    received_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "wechat_callback_nonce"
        unique_together = (("app_id", "timestamp", "nonce"),)


class WechatTitle(Model):
    """The title a clerk chose for an item on WeChat, when the item title is too long."""

    id = fields.IntField(primary_key=True)
    item_id = fields.IntField(unique=True)
    title = fields.CharField(max_length=128)
    set_by = fields.CharField(max_length=64, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "wechat_title"
