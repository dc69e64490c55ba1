"""The demo's catalog: acme's teams, systems, components, APIs and resources.

Plain tables of the fictional company and the functions that turn them into
Backstage descriptor files (``catalog_files``), including the deliberate
mistakes the demo exists to show: a file that is not valid YAML, an entity
whose name is one character too long among valid ones, a dangling owner and a
missing description. Called by :mod:`trueup.world.demo`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from trueup.yaml_text import dump_document, dump_documents

API_VERSION = "backstage.io/v1alpha1"
CLUSTERS = ("prod-eu", "prod-us")
# A team that was renamed long ago; one component still names it as its owner.
DANGLING_OWNER = "group:default/team-billing"
# 64 characters: one over Backstage's limit, so this entity alone is invalid.
INVALID_RESOURCE = "payments-reconciliation-archive-bucket-eu-west-1-primary-replica"
INVALID_ENTITY_FILE = "platform/resources.yaml"
BROKEN_FILE = "storefront/gift-cards/catalog-info.yaml"
LOCATION_TARGETS = ("org/groups.yaml", "org/users.yaml", "systems.yaml")

Entity = dict[str, object]


@dataclass(frozen=True, slots=True)
class DemoComponent:
    """One component of the demo: how it is declared and where it runs."""

    name: str
    system: str
    description: str | None
    type: str = "service"
    lifecycle: str = "production"
    owner: str | None = None  # default: the system's team
    provides: tuple[str, ...] = ()
    consumes: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    runs_in: tuple[str, ...] = CLUSTERS
    version: str = "1.0.0"


TEAMS = {
    "team-payments": (
        "Payments",
        "Card payments, invoicing and the ledger.",
        ("alice.martin", "bruno.silva", "chen.wei"),
    ),
    "team-storefront": (
        "Storefront",
        "Everything a shopper sees: web shop, cart, checkout and search.",
        ("dana.kowalski", "emeka.obi", "farah.haddad"),
    ),
    "team-platform": (
        "Platform",
        "Clusters, databases, queues and the paved road.",
        ("gustavo.reyes", "hana.sato"),
    ),
}
USERS = {
    "alice.martin": "Alice Martin",
    "bruno.silva": "Bruno Silva",
    "chen.wei": "Chen Wei",
    "dana.kowalski": "Dana Kowalski",
    "emeka.obi": "Emeka Obi",
    "farah.haddad": "Farah Haddad",
    "gustavo.reyes": "Gustavo Reyes",
    "hana.sato": "Hana Sato",
    "ines.moreau": "Ines Moreau",
}
SYSTEMS = {
    "payments": ("team-payments", "Takes money from shoppers and keeps the books."),
    "storefront": ("team-storefront", "The acme web shop from product page to order."),
}
NAMESPACES = {"payments": "payments", "storefront": "storefront"}

COMPONENTS = (
    DemoComponent(
        "payments-api",
        "payments",
        "Public payment API: authorises and captures card payments.",
        provides=("payments-v1",),
        depends_on=("resource:payments-db", "resource:payment-events"),
        version="4.12.0",
    ),
    DemoComponent(
        "payments-worker",
        "payments",
        "Settles captured payments with the acquirer in the background.",
        depends_on=("resource:payment-events", "resource:payments-db"),
        version="4.12.0",
    ),
    DemoComponent(
        "fraud-scoring",
        "payments",
        "Scores payments for fraud risk before capture.",
        lifecycle="experimental",
        depends_on=("resource:payment-events",),
        runs_in=("prod-eu",),
        version="0.7.3",
    ),
    DemoComponent(
        "invoice-service",
        "payments",
        "Creates and sends invoices for business customers.",
        provides=("invoices-v1",),
        consumes=("payments-v1",),
        depends_on=("resource:payments-db",),
        runs_in=("prod-eu",),
        version="2.3.1",
    ),
    DemoComponent(
        "ledger-service",
        "payments",
        "Double-entry ledger of every money movement.",
        depends_on=("resource:payments-db", "resource:payment-events"),
        runs_in=("prod-eu",),
        version="3.0.4",
    ),
    DemoComponent(
        "refunds-service",
        "payments",
        "Handles refund requests from support and the storefront.",
        owner=DANGLING_OWNER,
        consumes=("payments-v1",),
        depends_on=("resource:payments-db",),
        runs_in=("prod-us",),
        version="1.8.0",
    ),
    DemoComponent(
        "checkout-web",
        "storefront",
        "The checkout pages of the web shop.",
        type="website",
        consumes=("cart-v1", "payments-v1"),
        depends_on=("component:cart-service",),
        version="7.21.0",
    ),
    DemoComponent(
        "storefront-web",
        "storefront",
        "The acme web shop: home, product and category pages.",
        type="website",
        consumes=("product-catalog-v2", "cart-v1"),
        depends_on=("resource:session-cache",),
        version="12.4.2",
    ),
    DemoComponent(
        "account-web",
        "storefront",
        None,
        type="website",
        consumes=("payments-v1",),
        depends_on=("resource:session-cache",),
        runs_in=("prod-eu",),
        version="2.9.0",
    ),
    DemoComponent(
        "cart-service",
        "storefront",
        "Shopping carts, prices and promotions.",
        provides=("cart-v1",),
        consumes=("product-catalog-v2",),
        depends_on=("resource:session-cache",),
        version="5.2.7",
    ),
    DemoComponent(
        "product-catalog-service",
        "storefront",
        "Products, variants and stock levels.",
        provides=("product-catalog-v2",),
        depends_on=("resource:orders-db",),
        version="9.0.1",
    ),
    DemoComponent(
        "order-service",
        "storefront",
        "Turns a paid cart into an order and tracks it.",
        consumes=("payments-v1", "cart-v1"),
        depends_on=("resource:orders-db", "resource:order-events"),
        version="6.5.0",
    ),
    DemoComponent(
        "notification-service",
        "storefront",
        "Sends order and shipping e-mails to shoppers.",
        depends_on=("resource:order-events",),
        runs_in=("prod-us",),
        version="1.4.9",
    ),
    DemoComponent(
        "search-service",
        "storefront",
        "Full-text product search with typo tolerance.",
        lifecycle="experimental",
        consumes=("product-catalog-v2",),
        version="0.12.0",
    ),
    DemoComponent(
        "recommendations-service",
        "storefront",
        "Suggests products from browsing history.",
        lifecycle="experimental",
        consumes=("product-catalog-v2",),
        runs_in=(),
        version="0.3.0",
    ),
)
APIS = {
    "payments-v1": ("payments", "Authorise, capture and refund card payments.", "/payments"),
    "invoices-v1": ("payments", "Create and list invoices of business customers.", "/invoices"),
    "cart-v1": ("storefront", "Read and change a shopper's cart.", "/carts"),
    "product-catalog-v2": ("storefront", "Browse products, variants and stock.", "/products"),
}
KUBERNETES_ID = "backstage.io/kubernetes-id"
# Resources provisioned through Crossplane claims in prod-eu: name -> (claim kind,
# namespace, Ready, Synced). One is not Ready, one is not Synced.
CLAIMED = {
    "orders-db": ("PostgreSQLInstance", "storefront", "False", "True"),
    "session-cache": ("RedisInstance", "storefront", "True", "False"),
}
RESOURCES = {
    "payments-db": ("database", "payments", "PostgreSQL 15 cluster of the payments system."),
    "orders-db": ("database", "storefront", "PostgreSQL 15 cluster holding orders and products."),
    "payment-events": ("queue", "payments", "Kafka topic of payment state changes."),
    "order-events": ("queue", "storefront", "Kafka topic of order state changes."),
    "session-cache": ("cache", "storefront", "Redis cache of shopper sessions."),
}


# --- files -------------------------------------------------------------------

# Somebody indented ``annotations`` one space too far: "mapping values are not
# allowed here". Backstage drops the whole file; trueup reports it and goes on.
BROKEN_TEXT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: gift-cards-service
  description: Issues and redeems gift cards.
   annotations:
    github.com/project-slug: acme/gift-cards-service
spec:
  type: service
  lifecycle: experimental
  owner: team-storefront
  system: storefront
"""


def _entity(kind: str, name: str, description: str | None, spec: Entity, **meta: object) -> Entity:
    metadata: Entity = {"name": name}
    if description is not None:
        metadata["description"] = description
    metadata.update(meta)
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def _groups() -> list[Entity]:
    groups = [
        _entity(
            "Group",
            "engineering",
            "All of acme engineering.",
            {
                "type": "department",
                "profile": {"displayName": "Engineering", "email": "engineering@acme.example"},
                "children": list(TEAMS),
                "members": ["ines.moreau"],
            },
        )
    ]
    for name, (display, description, members) in TEAMS.items():
        groups.append(
            _entity(
                "Group",
                name,
                description,
                {
                    "type": "team",
                    "profile": {"displayName": display, "email": f"{name}@acme.example"},
                    "parent": "engineering",
                    "children": [],
                    "members": list(members),
                },
            )
        )
    return groups


def _users() -> list[Entity]:
    users = []
    for name, display in USERS.items():
        teams = [team for team, (_, _, members) in TEAMS.items() if name in members]
        users.append(
            _entity(
                "User",
                name,
                None,
                {
                    "profile": {"displayName": display, "email": f"{name}@acme.example"},
                    "memberOf": teams or ["engineering"],
                },
            )
        )
    return users


def _systems() -> list[Entity]:
    entities = [
        _entity(
            "Domain",
            "commerce",
            "Selling to shoppers and getting paid.",
            {"owner": "group:default/engineering"},
        )
    ]
    for name, (owner, description) in SYSTEMS.items():
        entities.append(
            _entity(
                "System", name, description, {"owner": owner, "domain": "commerce"}, tags=[name]
            )
        )
    return entities


def _openapi(name: str, title: str, path: str) -> str:
    return f"""\
openapi: 3.0.3
info:
  title: {title}
  version: {name.rsplit("-", 1)[1].lstrip("v")}.0.0
servers:
  - url: https://api.acme.example{path}
paths:
  {path}:
    get:
      summary: List {path.strip("/")}
      responses:
        "200":
          description: OK
"""


def _apis(system: str) -> list[Entity]:
    return [
        _entity(
            "API",
            name,
            description,
            {
                "type": "openapi",
                "lifecycle": "production",
                "owner": SYSTEMS[system][0],
                "system": system,
                "definition": _openapi(name, description.rstrip("."), path),
            },
        )
        for name, (api_system, description, path) in APIS.items()
        if api_system == system
    ]


def _resources() -> list[Entity]:
    resources = [
        _entity(
            "Resource",
            name,
            description,
            {"type": kind, "owner": "team-platform", "system": system},
            tags=[kind],
            # Crossplane claims labelled with this id link to the resource.
            **({"annotations": {KUBERNETES_ID: name}} if name in CLAIMED else {}),
        )
        for name, (kind, system, description) in RESOURCES.items()
    ]
    invalid = _entity(
        "Resource",
        INVALID_RESOURCE,
        "S3 bucket archiving reconciliation reports.",
        {"type": "s3-bucket", "owner": "team-platform", "system": "payments"},
    )
    resources.insert(3, invalid)
    return resources


def _component(component: DemoComponent) -> Entity:
    spec: Entity = {
        "type": component.type,
        "lifecycle": component.lifecycle,
        "owner": component.owner or SYSTEMS[component.system][0],
        "system": component.system,
    }
    if component.provides:
        spec["providesApis"] = list(component.provides)
    if component.consumes:
        spec["consumesApis"] = list(component.consumes)
    if component.depends_on:
        spec["dependsOn"] = list(component.depends_on)
    annotations = {
        "github.com/project-slug": f"acme/{component.name}",
        "backstage.io/techdocs-ref": "dir:.",
        "backstage.io/kubernetes-id": component.name,
    }
    if component.type == "website":
        annotations["argocd/app-name"] = component.name
    return _entity(
        "Component",
        component.name,
        component.description,
        spec,
        annotations=annotations,
        tags=[component.system, component.type],
        links=[
            {
                "url": f"https://github.com/acme/{component.name}",
                "title": "Repository",
                "icon": "github",
            }
        ],
    )


def catalog_files() -> dict[str, str]:
    files = {
        "locations.yaml": dump_document(
            _entity(
                "Location",
                "acme-organisation",
                "The organisation and its systems.",
                {"type": "file", "targets": [f"./{target}" for target in LOCATION_TARGETS]},
            )
        ),
        "org/groups.yaml": dump_documents(_groups()),
        "org/users.yaml": dump_documents(_users()),
        "systems.yaml": dump_documents(_systems()),
        "payments/apis.yaml": dump_documents(_apis("payments")),
        "storefront/apis.yaml": dump_documents(_apis("storefront")),
        INVALID_ENTITY_FILE: dump_documents(_resources()),
        BROKEN_FILE: BROKEN_TEXT,
    }
    for component in COMPONENTS:
        files[f"{component.system}/{component.name}/catalog-info.yaml"] = dump_document(
            _component(component)
        )
    return files


def declared_counts() -> dict[str, int]:
    counts = Counter({"Location": 1, "Domain": 1, "Component": len(COMPONENTS)})
    counts["Group"] = len(_groups())
    counts["User"] = len(_users())
    counts["System"] = len(SYSTEMS)
    counts["API"] = len(APIS)
    counts["Resource"] = len(RESOURCES)  # the invalid one is not counted
    return dict(counts)
