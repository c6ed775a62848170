"""Broadsheet's integration events: the contract between services.

One versioned pydantic model per event type. A breaking change is a new version (a new class,
``…V2``), never an edit of a published one.
"""

from broadsheet_shared.events.articles import (
    ArticleData,
    ArticleDeletedV1,
    ArticlePublishedV1,
    ArticleRef,
    ArticleStateData,
    ArticleStateV1,
    ArticleUnpublishedV1,
    ArticleUpdatedV1,
    SectionRef,
)
from broadsheet_shared.events.base import Emitted, IntegrationEvent, Tombstone
from broadsheet_shared.events.codec import (
    EventDecodeError,
    decode_event,
    encode_event,
    event_class,
    registered_events,
)
from broadsheet_shared.events.comments import (
    CommentApprovedData,
    CommentApprovedV1,
    CommentDeletedData,
    CommentDeletedV1,
    CommentEditedData,
    CommentEditedV1,
    CommentImportedData,
    CommentImportedV1,
    CommentPostedData,
    CommentPostedV1,
    CommentRejectedData,
    CommentRejectedV1,
)
from broadsheet_shared.events.notifications import (
    NotificationFailedData,
    NotificationFailedV1,
    NotificationSentData,
    NotificationSentV1,
)
from broadsheet_shared.events.staff import (
    StaffAccountChangedV1,
    StaffAccountData,
    StaffActionData,
    StaffActionRecordedV1,
)

__all__ = [
    "ArticleData",
    "ArticleDeletedV1",
    "ArticlePublishedV1",
    "ArticleRef",
    "ArticleStateData",
    "ArticleStateV1",
    "ArticleUnpublishedV1",
    "ArticleUpdatedV1",
    "CommentApprovedData",
    "CommentApprovedV1",
    "CommentDeletedData",
    "CommentDeletedV1",
    "CommentEditedData",
    "CommentEditedV1",
    "CommentImportedData",
    "CommentImportedV1",
    "CommentPostedData",
    "CommentPostedV1",
    "CommentRejectedData",
    "CommentRejectedV1",
    "Emitted",
    "EventDecodeError",
    "IntegrationEvent",
    "NotificationFailedData",
    "NotificationFailedV1",
    "NotificationSentData",
    "NotificationSentV1",
    "SectionRef",
    "StaffAccountChangedV1",
    "StaffAccountData",
    "StaffActionData",
    "StaffActionRecordedV1",
    "Tombstone",
    "decode_event",
    "encode_event",
    "event_class",
    "registered_events",
]
