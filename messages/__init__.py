"""The mesobus message catalogue: value types, messages, the envelope and the codec.

Pure data: nothing here does I/O. Read `framework.py`, `agent.py` and `allocation.py` to
learn the protocol; each message says who sends it to whom.
"""

from messages.agent import *  # noqa: F401,F403  (the catalogue is the public surface)
from messages.allocation import *  # noqa: F401,F403
from messages.catalogue import CATALOGUE, lookup, message, wire_name
from messages.codec import decode, decode_map, encode
from messages.envelope import FORMAT_VERSION, Envelope
from messages.errors import MessageError, ResourceError
from messages.framework import *  # noqa: F401,F403
import messages.master_timers  # noqa: F401  (registers the master's timer messages)
from messages.output import (
    OUTPUT_CHUNK, OUTPUT_WINDOW, STREAM_LABEL, OutputPoll, OutputWaitOver, TaskOutput, TaskOutputAck,
)
from messages.journal import JOURNAL, ActorStarted, AllocationExplained, InputsHandled, PublishedBatch, Skip
from messages.resources import Resources
from messages.schema import from_plain, to_plain
from messages.values import (
    AgentInfo,
    CommandInfo,
    CommandURI,
    ContainerInfo,
    ContainerType,
    ExecutorInfo,
    Filters,
    FrameworkInfo,
    MachineId,
    MaintenanceWindow,
    MasterInfo,
    Offer,
    Operation,
    OperationType,
    StatusReason,
    StatusSource,
    Task,
    TaskInfo,
    TaskRef,
    TaskState,
    TaskStatus,
    Unavailability,
)
