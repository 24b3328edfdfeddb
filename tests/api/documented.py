"""Tools whose parameters are described by their docstrings, in each style the model's schema
reads (Google, NumPy, Sphinx), and docstrings that describe too little, too much or oddly."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from agentplane import tool
from agentplane.tools import ToolContext


@tool(effect="read")
def find_google(customer: str, limit: int = 10, context: ToolContext | None = None) -> str:
    """Find a customer's latest orders,
    newest first.

    Only orders of the last year are kept.

    Args:
        customer (str): The customer's e-mail
            address.
        limit: How many orders at most.
        context: The call's context (not an argument the model gives).

    Returns:
        The orders, as text.
    """
    return f"{customer}:{limit}"


@tool(effect="read")
def find_numpy(customer: str, low: int = 0, high: int = 9) -> str:
    """Find a customer's latest orders.

    Parameters
    ----------
    customer : str
        The customer's e-mail address.
    low, high : int
        Bounds of the order numbers.
    """
    return customer


@tool(effect="read")
def find_sphinx(customer: str, limit: int = 10) -> str:
    """Find a customer's latest orders.

    :param customer: The customer's e-mail address.
    :param int limit: How many orders at most.
    :returns: the orders, as text.
    """
    return customer


@tool(effect="read", description="Find orders (the declared description).")
def find_annotated(
    customer: Annotated[str, Field(description="Set with Field: this one wins.")],
    limit: Annotated[int, Field(ge=1, le=50)] = 10,
    since: str = Field("2026-01-01", description="A Field default: this one wins too."),
) -> str:
    """Find a customer's latest orders.

    Args:
        customer: From the docstring, overridden.
        limit: From the docstring, kept next to the bounds.
        since: From the docstring, overridden.
    """
    return customer


@tool(effect="read")
def find_stale(customer: str, limit: int = 10) -> str:
    """Find a customer's latest orders.
    Args:
        customer: The customer's e-mail address.
        order_no: A parameter the function no longer has.
        limit:
    """
    return customer


@tool(effect="read")
def find_odd(customer: str) -> str:
    """Find a customer's latest orders.

    : :returns:
    """
    return customer


@tool(effect="read")
def find_bare(customer: str) -> str:
    return customer
