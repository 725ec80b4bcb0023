"""A small but realistic repository, built with real git history, plus tasks labelled with the
files a person would open for each. Used by the ranking tests and by bench/bench_context.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from .conftest import commit_files, git

FILES: dict[str, str] = {
    "README.md": "# shop\n\nA tiny web shop: catalog, cart, checkout, payments.\n",
    "shop/__init__.py": "",
    "shop/http_client.py": '''"""HTTP client used to talk to the payment provider."""

import time


class HttpClient:
    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url
        self.timeout = timeout

    def get(self, path: str) -> dict:
        return self._send("GET", path)

    def post(self, path: str, body: dict) -> dict:
        return self._send("POST", path, body)

    def _send(self, method: str, path: str, body: dict | None = None) -> dict:
        return {"method": method, "url": self.base_url + path, "body": body}
''',
    "shop/retry.py": '''"""Retry policy with exponential backoff."""

import time


class RetryPolicy:
    def __init__(self, attempts: int = 3, backoff: float = 0.5) -> None:
        self.attempts = attempts
        self.backoff = backoff

    def delays(self) -> list[float]:
        return [self.backoff * 2**i for i in range(self.attempts)]


def with_retries(fn, policy: RetryPolicy):
    for delay in policy.delays():
        try:
            return fn()
        except ConnectionError:
            time.sleep(delay)
    return fn()
''',
    "shop/payments.py": '''"""Charging customers through the payment provider."""

from shop.http_client import HttpClient
from shop.retry import RetryPolicy, with_retries


class PaymentGateway:
    def __init__(self, client: HttpClient) -> None:
        self.client = client
        self.policy = RetryPolicy()

    def charge(self, customer_id: str, amount_cents: int) -> dict:
        return with_retries(lambda: self.client.post("/charges", {"customer": customer_id, "amount": amount_cents}), self.policy)

    def refund(self, charge_id: str) -> dict:
        return self.client.post(f"/charges/{charge_id}/refund", {})
''',
    "shop/cart.py": '''"""Shopping cart: items, quantities, totals."""

from shop.catalog import Product


class Cart:
    def __init__(self) -> None:
        self.lines: dict[str, int] = {}

    def add(self, product: Product, quantity: int = 1) -> None:
        self.lines[product.sku] = self.lines.get(product.sku, 0) + quantity

    def remove(self, product: Product) -> None:
        self.lines.pop(product.sku, None)

    def total_cents(self, catalog: dict[str, Product]) -> int:
        return sum(catalog[sku].price_cents * qty for sku, qty in self.lines.items())
''',
    "shop/catalog.py": '''"""Product catalog."""

from dataclasses import dataclass


@dataclass
class Product:
    sku: str
    name: str
    price_cents: int


def load_catalog(rows: list[dict]) -> dict[str, Product]:
    return {r["sku"]: Product(r["sku"], r["name"], r["price_cents"]) for r in rows}
''',
    "shop/checkout.py": '''"""Checkout: turn a cart into a paid order."""

from shop.cart import Cart
from shop.payments import PaymentGateway
from shop.discounts import apply_discount


def checkout(cart: Cart, catalog, gateway: PaymentGateway, customer_id: str, code: str | None = None) -> dict:
    total = cart.total_cents(catalog)
    if code:
        total = apply_discount(total, code)
    return gateway.charge(customer_id, total)
''',
    "shop/discounts.py": '''"""Discount codes."""

CODES = {"WELCOME10": 10, "VIP25": 25}


def apply_discount(total_cents: int, code: str) -> int:
    percent = CODES.get(code.upper(), 0)
    return total_cents - total_cents * percent // 100
''',
    "shop/emails.py": '''"""Order confirmation e-mails."""


def render_confirmation(order_id: str, total_cents: int) -> str:
    return f"Thanks! Order {order_id}: {total_cents / 100:.2f} EUR"
''',
    "tests/test_cart.py": """from shop.cart import Cart
from shop.catalog import Product


def test_total():
    cart = Cart()
    cart.add(Product("a", "Apple", 100), 3)
    assert cart.total_cents({"a": Product("a", "Apple", 100)}) == 300
""",
    "tests/test_payments.py": """from shop.http_client import HttpClient
from shop.payments import PaymentGateway


def test_charge():
    gw = PaymentGateway(HttpClient("https://pay.example"))
    assert gw.charge("c1", 500)["url"].endswith("/charges")
""",
    "docs/deploy.md": "# Deploying\n\nRun the container behind nginx. Set PAYMENT_URL.\n",
    "config/settings.toml": '[payments]\nurl = "https://pay.example"\ntimeout = 5\n',
    ".env": "PAYMENT_API_KEY=sk-live-abcdefghijklmnopqrstuvwx0123456789\n",
}

# The rest of a real shop: modules that share its vocabulary (orders, customers, totals, requests)
# without being what the labelled tasks are about, so that naive grep finds many files.
_NOISE_TOPICS = {
    "inventory": "Stock levels per product sku; reserve and release items for an order.",
    "shipping": "Shipping rates by weight and country for each order; customer address checks.",
    "tax": "VAT per country applied to an order total in cents.",
    "analytics": "Counts orders, carts and payment requests per day for the dashboard.",
    "admin": "Admin views: list customers, orders, refunds and discount codes.",
    "i18n": "Translations for emails, checkout pages and payment errors.",
    "search": "Product search over the catalog by name and sku.",
    "reviews": "Customer reviews of products with a rating.",
    "wishlist": "Customer wish lists of products, moved to the cart on request.",
    "loyalty": "Loyalty points earned per order total; redeemed like a discount.",
    "fraud": "Scores a payment request and customer history for fraud before charge.",
    "webhooks": "Receives payment provider webhooks over http and updates orders.",
    "audit": "Audit log of admin actions, refunds and configuration changes.",
    "sessions": "Customer web sessions and the cart they hold; timeout handling.",
    "invoices": "Invoice PDFs for each paid order with totals and tax lines.",
    "returns": "Customer returns: request, approve, refund the order line.",
}
for _name, _doc in _NOISE_TOPICS.items():
    _cls = _name.title().replace("_", "")
    FILES[f"shop/{_name}.py"] = (
        f'"""{_doc}"""\n\n\nclass {_cls}Service:\n    def __init__(self, store) -> None:\n        self.store = store\n\n'
        f"    def handle(self, order_id: str, customer_id: str) -> dict:\n"
        f"        # look up the order, the customer and the total before acting\n"
        f"        order = self.store.get(order_id)\n"
        f'        return {{"order": order, "customer": customer_id, "service": "{_name}"}}\n\n'
        f'    def report(self) -> list[dict]:\n        return [r for r in self.store.all() if r.get("{_name}")]\n'
    )
    FILES[f"docs/{_name}.md"] = (
        f"# {_name.title()}\n\n{_doc}\n\nSee shop/{_name}.py. Orders, customers and totals are described in the README.\n"
    )

# task -> the files a person would open for it
LABELLED: dict[str, set[str]] = {
    "Add jitter to the retry backoff used for payment requests": {"shop/retry.py", "shop/payments.py"},
    "Refunds fail: PaymentGateway.refund should retry like charge does": {
        "shop/payments.py",
        "shop/retry.py",
    },
    "Support percentage discount codes being case-insensitive at checkout": {
        "shop/discounts.py",
        "shop/checkout.py",
    },
    "Cart total_cents is wrong when a product is removed": {"shop/cart.py", "tests/test_cart.py"},
    "Make the HttpClient timeout configurable from settings": {"shop/http_client.py", "config/settings.toml"},
    "Include the order total in the confirmation email": {"shop/emails.py"},
    "load_catalog should skip rows without a price": {"shop/catalog.py"},
    "Fraud scoring must run before PaymentGateway.charge": {"shop/fraud.py", "shop/payments.py"},
    "Loyalty points should be redeemable at checkout like a discount code": {
        "shop/loyalty.py",
        "shop/checkout.py",
        "shop/discounts.py",
    },
}


def build(root: Path) -> None:
    """Create the repo with a history in which payments.py and retry.py change together."""
    git(root, "init", "-q", "-b", "main")
    start = datetime(2026, 9, 1, tzinfo=UTC)
    first = {k: v for k, v in FILES.items() if k != ".env"}
    commit_files(root, first, "initial shop", when=start)
    (root / ".gitignore").write_text("")
    for i in range(3):
        commit_files(
            root,
            {
                "shop/payments.py": FILES["shop/payments.py"] + f"\n# tweak {i}\n",
                "shop/retry.py": FILES["shop/retry.py"] + f"\n# tweak {i}\n",
            },
            f"payments: retry tweak {i}",
            when=start + timedelta(days=i + 1),
        )
    (root / ".env").write_text(FILES[".env"])  # untracked, not ignored: must still never be loaded
