"""The dashboard's pages, in menu order: each module has `render(gold, role, stores)`.

The folder is not called `pages/`: Streamlit would list a `pages/` beside app.py as pages of its own.
"""

from __future__ import annotations

from dashboard.screens import alerts, customer_behaviour, inventory_risk, pipeline_health, store_performance

PAGES = {
    "Store performance": store_performance,
    "Inventory risk": inventory_risk,
    "Alerts": alerts,
    "Customer behaviour": customer_behaviour,
    "Pipeline health": pipeline_health,
}
