"""What the API answers, as pydantic models: the OpenAPI schema at /docs is built from them."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

Risk = Literal["stockout", "below_reorder_point", "ok", "overstock"]
Severity = Literal["low", "medium", "high", "critical"]
AlertKind = Literal["stockout", "stockout_risk", "below_reorder_point", "predicted_stockout", "overstock"]


class Problem(BaseModel):
    detail: str = Field(description="what went wrong and what to do, in a sentence")


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    login: str
    expires_at: dt.datetime


class Store(BaseModel):
    store_id: str
    store_name: str
    region: str
    city: str | None = None
    state: str | None = None
    timezone: str
    opens_at: str | None = None
    closes_at: str | None = None


class StockPosition(BaseModel):
    store_id: str
    sku: str
    product_name: str | None = None
    category: str | None = None
    risk: str
    on_hand: float
    on_order: int | None = Field(
        None, description="units on open purchase orders (null before gold has them)"
    )
    safety_stock: float | None = None
    reorder_point: float | None = None
    order_up_to_level: float | None = None
    days_of_cover: float | None = None
    stockout_probability: float | None = Field(
        None, description="probability of running out within the lead time (null before gold has it)"
    )
    stockout_probability_1d: float | None = None
    expected_stockout_date: dt.date | None = None
    stockout_probability_raw: float | None = Field(
        None,
        description="the stock model's probability before gold's calibration map (null before gold has it)",
    )
    calibration_fitted_on: dt.date | None = Field(
        None,
        description="day of the load that fitted the calibration map; null when the map was the identity",
    )
    calibration_rows: int | None = Field(None, description="past store-SKU days the map was fitted on")
    predicted_stockout_date: dt.date | None = None
    recommended_order_qty: float | None = None
    daily_demand: float | None = None
    stock_value_at_cost: float | None = None
    as_of: dt.datetime


class Alert(BaseModel):
    alert_id: int
    store_id: str
    store_name: str | None = None
    sku: str
    product_name: str | None = None
    category: str | None = None
    severity: str
    severity_rank: int
    kind: str
    stockout_probability: float | None = None
    expected_stockout_date: dt.date | None = None
    on_hand: float | None = None
    on_order: int | None = None
    reorder_point: float | None = None
    predicted_stockout_date: dt.date | None = None
    recommended_order_qty: float | None = None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    escalated_at: dt.datetime | None = None


class ForecastDay(BaseModel):
    forecast_date: dt.date
    forecast_units: float
    as_of: dt.datetime


class Forecast(BaseModel):
    store_id: str
    sku: str
    days: list[ForecastDay]


class ReorderLine(BaseModel):
    store_id: str
    sku: str
    product_name: str | None = None
    category: str | None = None
    on_hand: float
    on_order: int | None = None
    reorder_point: float | None = None
    stockout_probability: float | None = None
    recommended_order_qty: float
    expected_stockout_date: dt.date | None = None
    predicted_stockout_date: dt.date | None = None
    unit_cost: float | None = None
    order_value_at_cost: float | None = None


class StorePage(BaseModel):
    items: list[Store]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last")


class StockPage(BaseModel):
    items: list[StockPosition]
    next_cursor: str | None = None


class AlertPage(BaseModel):
    items: list[Alert]
    next_cursor: str | None = None


class ReorderPage(BaseModel):
    items: list[ReorderLine]
    next_cursor: str | None = None
