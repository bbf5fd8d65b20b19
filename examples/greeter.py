"""A custom executor and the framework that uses it: `python examples/greeter.py [--broker URL]`.

The agent starts the executor once per (framework, executor id) with
`python -m actors.executor examples.greeter:Greeter`; each task it is given says hello
in its status update (no child process at all).
"""

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `examples.greeter` from a checkout

from actors import Executor, Scheduler  # noqa: E402
from actors.cluster import LocalCluster  # noqa: E402
from messages import CommandInfo, ExecutorInfo, Resources, TaskState  # noqa: E402

GREETER = ExecutorInfo(
    executor_id="greeter",
    command=CommandInfo("python -m actors.executor examples.greeter:Greeter"),
    resources=Resources.parse("cpus:0.1;mem:32"),  # the executor's own share
)


class Greeter(Executor):
    def launch_task(self, task):
        self.update(task.task_id, TaskState.TASK_RUNNING)
        name = task.data.decode() or "world"
        self.update(task.task_id, TaskState.TASK_FINISHED, message=f"hello, {name}")


class Greetings(Scheduler):
    def __init__(self, names=("ada", "alan")):
        super().__init__()
        self.to_greet, self.said = list(names), {}

    def resource_offers(self, offers):
        for offer in offers:
            tasks = [self.task(offer, GREETER, cpus=0.1, mem=16, data=name.encode()) for name in self.to_greet]
            self.to_greet = []
            self.launch(offer, tasks)

    def status_update(self, status):
        if status.state.is_terminal:
            self.said[status.task_id] = status.message
            print(status.task_id, status.state.value, status.message)
            if len(self.said) == 2:
                self.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--broker", help="amqp://... (default: an embedded cluster)")
    args = parser.parse_args()
    with nullcontext(args.broker) if args.broker else LocalCluster(agents=1) as target:
        Greetings.run(target, name="greetings").join()
