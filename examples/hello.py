"""Run five echo tasks and stop when all have ended: `python examples/hello.py [--broker URL]`."""

import argparse
from contextlib import nullcontext

from actors import Scheduler
from actors.cluster import LocalCluster
from messages import Resources

TASK = Resources.parse("cpus:0.1;mem:32")


class Hello(Scheduler):
    def __init__(self, count: int = 5) -> None:
        super().__init__()
        self.count, self.to_launch, self.ended = count, count, 0

    def resource_offers(self, offers):
        for offer in offers:
            tasks, free = [], offer.resources
            while self.to_launch and free.contains(TASK):
                self.to_launch -= 1
                tasks.append(self.task(offer, f"echo hello from task {self.to_launch}", resources=TASK))
                free -= TASK
            self.launch(offer, tasks)  # no tasks: the offer is declined

    def status_update(self, status):
        print(f"{status.task_id} {status.state.value} {status.message}")
        self.ended += status.state.is_terminal
        if self.ended == self.count:
            self.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--broker", help="amqp://... (default: an embedded cluster)")
    args = parser.parse_args()
    with nullcontext(args.broker) if args.broker else LocalCluster(agents=2) as target:
        Hello.run(target, name="hello", count=5).join()
