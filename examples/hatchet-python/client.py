"""Trigger the worker's workflows and print their results (run it with `run-client`)."""

from worker import Order, hello, orders

if __name__ == "__main__":
    print("hello  ->", hello.run())
    print("orders ->", orders.run(Order(item="widget", quantity=4)))
