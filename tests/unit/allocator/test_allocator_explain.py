"""The optional decision record: which (framework, agent) pairs were skipped, and why."""

from __future__ import annotations

from actors.allocator import Allocator
from messages import Resources

R = Resources.parse


def test_explain_records_why_pairs_were_skipped():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:2048"))
    a.add_agent("tiny", R("cpus:0.001;mem:1"))
    a.add_agent("s3", R("cpus:4;mem:2048"))
    a.add_framework("f-filtered", roles=["*"])
    a.add_framework("f-suppressed", roles=["*"], suppressed_roles=["*"])
    a.add_framework("f-inactive", roles=["*"], active=False)
    a.add_framework("f-quota", roles=["capped"])
    a.update_quota("capped", limit=R("cpus:0.001;mem:1"))
    a.restore_allocation("f-filtered", "s1", "*", R("cpus:4;mem:2048"))
    a.recover("f-filtered", "s1", "*", R("cpus:4;mem:2048"), refuse_seconds=9.0, now=0.0)
    a.restore_allocation("f-filtered", "s3", "*", R("cpus:4;mem:2048"))  # s3: nothing left

    assert a.allocate(now=1.0, explain=True) == []
    e = a.last_explanation
    def why(framework_id: str, agent_id: str, role: str = "*") -> list[str]:
        return [s.reason for s in e.why(framework_id, agent_id, role)]

    assert [(s.reason, s.until) for s in e.why("f-filtered", "s1", "*")] == [("filtered", 9.0)]
    assert why("f-suppressed", "s1") == ["suppressed"]
    assert why("f-inactive", "s1") == ["inactive"]
    assert why("f-quota", "s1", role="capped") == ["quota"]
    assert why("f-filtered", "tiny") == ["nothing allocatable"]
    assert why("f-filtered", "s3") == ["nothing allocatable"]


def test_explain_is_off_by_default():
    a = Allocator(seed=0)
    a.add_agent("s1", R("cpus:4;mem:2048"))
    a.add_framework("f1", roles=["*"])
    a.allocate(now=0.0, explain=True)
    a.allocate(now=1.0)
    assert a.last_explanation is None


def test_explain_does_not_change_the_decisions():
    def run(explain: bool) -> list[list[tuple[str, str]]]:
        a = Allocator(seed=5)
        for i in range(30):
            a.add_agent(f"s{i}", R("cpus:2;mem:512"))
        for i in range(6):
            a.add_framework(f"f{i}", roles=["*"])
        rounds = []
        for now in range(6):
            got = a.allocate(now=float(now), explain=explain)
            rounds.append([(x.framework_id, x.agent_id) for x in got])
            for x in got:
                a.recover(x.framework_id, x.agent_id, x.role, x.resources, 100.0, now=now)
        return rounds

    assert run(True) == run(False)
