"""A Hatchet worker, unmodified Hatchet code, run against Ratchet.

`start-worker` starts `ratchet serve` with Hatchet's gRPC endpoint and writes the SDK's
token into .env (the SDK reads it from there), then runs this file."""

from datetime import timedelta

from hatchet_sdk import Context, EmptyModel, Hatchet
from pydantic import BaseModel

hatchet = Hatchet()


class Order(BaseModel):
    item: str
    quantity: int


orders = hatchet.workflow(name="orders", input_validator=Order)


@orders.task(retries=2, execution_timeout=timedelta(seconds=30))
def price(input: Order, ctx: Context) -> dict:
    ctx.log(f"pricing {input.quantity} x {input.item}")
    return {"total": input.quantity * 3}


@orders.task(parents=[price])
def receipt(input: Order, ctx: Context) -> dict:
    total = ctx.task_output(price)["total"]
    return {"receipt": f"{input.quantity} x {input.item}: {total} coins"}


@hatchet.task(name="hello")
def hello(input: EmptyModel, ctx: Context) -> dict:
    return {"message": "Hello from a Hatchet worker on Ratchet"}


def main() -> None:
    hatchet.worker("example-worker", slots=4, workflows=[orders, hello]).start()


if __name__ == "__main__":
    main()
