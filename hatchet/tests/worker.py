"""A Hatchet worker serving every workflow of workflows.py (the tests start it)."""

from workflows import ALL, hatchet

if __name__ == "__main__":
    hatchet.worker("sdk-tests", slots=16, labels={"region": "eu"}, workflows=ALL).start()
