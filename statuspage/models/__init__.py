"""All status page tables. Importing this package registers every model on ``Base.metadata``."""

from statuspage.models.agents import AgentToken as AgentToken  # probe agents
from statuspage.models.agents import ProbeMark as ProbeMark  # worker marks
from statuspage.models.base import Base, UTCDateTime, new_id, utcnow
from statuspage.models.deadlines import Deadline as Deadline  # deadlines
from statuspage.models.deadlines import DeadlineNotice as DeadlineNotice
from statuspage.models.deadlines import NoticeUpdate as NoticeUpdate
from statuspage.models.mail import MailDelivery as MailDelivery  # email subscriptions
from statuspage.models.mail import MailFanout as MailFanout
from statuspage.models.mail import MailSubscriber as MailSubscriber
from statuspage.models.operators import ROLES as ROLES  # operator console
from statuspage.models.page import (
    ChangeCounter,
    Component,
    ComponentStatusChange,
    Incident,
    IncidentComponent,
    IncidentUpdate,
    UpdateEdit,
)
from statuspage.models.probes import LATENCY_BUCKETS_MS, ProbeResultRow, ProbeRollup
from statuspage.models.public import PageMarker as PageMarker  # public page flags
from statuspage.models.webhooks import UNFINISHED_STATES as UNFINISHED_STATES
from statuspage.models.webhooks import (  # subscriptions and the event outbox
    RateCounter as RateCounter,
)
from statuspage.models.webhooks import WebhookAttempt as WebhookAttempt
from statuspage.models.webhooks import WebhookDelivery as WebhookDelivery
from statuspage.models.webhooks import WebhookEndpoint as WebhookEndpoint
from statuspage.models.webhooks import WebhookEvent as WebhookEvent
from statuspage.models.webhooks import WebhookSubscription as WebhookSubscription

__all__ = [
    "LATENCY_BUCKETS_MS",
    "Base",
    "ChangeCounter",
    "Component",
    "ComponentStatusChange",
    "Incident",
    "IncidentComponent",
    "IncidentUpdate",
    "ProbeResultRow",
    "ProbeRollup",
    "UTCDateTime",
    "UpdateEdit",
    "new_id",
    "utcnow",
]
