"""Smoke block: proves that Mage runs project code that reaches LocalStack and PostgreSQL."""

from ops.health import service_health

if "data_loader" not in globals():
    from mage_ai.data_preparation.decorators import data_loader
if "test" not in globals():
    from mage_ai.data_preparation.decorators import test


@data_loader
def check_stack(*args, **kwargs) -> dict:
    return service_health()


@test
def every_service_answers(output: dict, *args) -> None:
    down = {name: state["detail"] for name, state in output.items() if not state["ok"]}
    assert not down, f"services not reachable from Mage: {down}"
