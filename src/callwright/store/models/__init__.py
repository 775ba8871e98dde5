"""Tables, one module per domain. Relationships are not mapped: repositories join
explicitly, so no query is ever issued implicitly by touching an attribute.

Tables are imported from this package (``from callwright.store.models import Call``):
importing it registers every table on ``Base.metadata``, which the migrations and the
schema check at start-up compare the database with.
"""

from callwright.store.models.accounts import ApiKey, AuthSession, Organization, User
from callwright.store.models.analysis import AnalysisJob
from callwright.store.models.assistant_versions import AssistantVersion
from callwright.store.models.assistants import Assistant, Tool
from callwright.store.models.calls import Call
from callwright.store.models.campaigns import Campaign, CampaignRecipient, DoNotCallNumber
from callwright.store.models.credentials import ProviderCredential
from callwright.store.models.evaluations import AssistantTest, TestResult, TestRun
from callwright.store.models.knowledge import KnowledgeBase, KnowledgeChunk, KnowledgeDocument
from callwright.store.models.nodes import Node
from callwright.store.models.phone_numbers import PhoneNumber
from callwright.store.models.webhooks import WebhookDelivery, WebhookEvent

__all__ = [
    "AnalysisJob",
    "ApiKey",
    "Assistant",
    "AssistantTest",
    "AssistantVersion",
    "AuthSession",
    "Call",
    "Campaign",
    "CampaignRecipient",
    "DoNotCallNumber",
    "KnowledgeBase",
    "KnowledgeChunk",
    "KnowledgeDocument",
    "Node",
    "Organization",
    "PhoneNumber",
    "ProviderCredential",
    "TestResult",
    "TestRun",
    "Tool",
    "User",
    "WebhookDelivery",
    "WebhookEvent",
]
