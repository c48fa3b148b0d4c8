"""reconcile() called directly on literal desired and observed states (no loader, no host, no store).

Each case states what is wanted and what exists, and compares the rendered plan,
ordering edges included where the order is the point.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from composer.engine.observe import Observed, ObservedContainer, ObservedState
from composer.engine.plan import Action, PlanBuilder, PlanCycleError, Verb, key
from composer.engine.reconcile import ReconcileOptions, firewall_hash, reconcile
from composer.model.container import ContainerConfig
from composer.model.desired import (
    Attachment,
    Dependency,
    DesiredContainer,
    DesiredLink,
    DesiredNetwork,
    DesiredState,
)
from composer.model.ids import ResourceId, container_id, firewall_id, link_id, network_id
from composer.store.records import ContainerRecord, FirewallRecord, LinkRecord, NetworkRecord, SandboxRecord

P = "lab"
UP = ReconcileOptions()


def network(name: str = "lan", *, config_hash: str = "n1") -> DesiredNetwork:
    return DesiredNetwork(network_id(name), name, f"cmb-{name}", False, True, None, None, config_hash)


def container(
    service: str,
    number: int = 1,
    *,
    config_hash: str = "c1",
    depends_on: dict[str, Dependency] | None = None,
    restart: str = "no",
    networks: tuple[str, ...] = ("lan",),
    mode: str = "bridge",
) -> DesiredContainer:
    name = f"{P}-{service}-{number}"
    config = ContainerConfig(P, service, name, number, ("sleep", "1d"), netns_path=f"/ns/{name}")
    attachments = tuple(Attachment(net, "eth0", (), None, None, ()) for net in networks)
    return DesiredContainer(
        container_id(name), service, name, number, config, config_hash, "", mode,
        attachments, (), depends_on or {}, restart, None,
    )  # fmt: skip


def link(a: str, b: str, *, config_hash: str = "l1") -> DesiredLink:
    name = f"{a}:eth1--{b}:eth1"
    return DesiredLink(link_id(name), f"{P}-{a}-1", "eth1", f"{P}-{b}-1", "eth1", config_hash)


def desired(*items: DesiredContainer | DesiredNetwork | DesiredLink) -> DesiredState:
    return DesiredState(
        P,
        networks={i.rid: i for i in items if isinstance(i, DesiredNetwork)},
        containers={i.rid: i for i in items if isinstance(i, DesiredContainer)},
        links={i.rid: i for i in items if isinstance(i, DesiredLink)},
    )


def seen(
    want: DesiredContainer,
    *,
    state: str = "running",
    phase: str = "created",
    config_hash: str | None = None,
    exit_code: int | None = None,
    sandbox_ok: bool = True,
    stopped_by_user: bool = False,
) -> ObservedContainer:
    record = ContainerRecord(
        want.service, want.number, "", f"/c/{want.name}",
        SandboxRecord(f"/ns/{want.name}", True, want.netns_owner), tuple(sorted(want.depends_on)),
        tuple(a.network for a in want.attachments),
    )  # fmt: skip
    return ObservedContainer(
        want.rid, phase, config_hash if config_hash is not None else want.config_hash, record,
        state if phase == "created" else "gone", "", exit_code, sandbox_ok, stopped_by_user,
    )  # fmt: skip


def seen_network(want: DesiredNetwork, *, present: bool = True) -> Observed[NetworkRecord]:
    return Observed(want.rid, "created", want.config_hash, NetworkRecord(want.bridge, False), present)


def seen_link(want: DesiredLink) -> Observed[LinkRecord]:
    return Observed(want.rid, "created", want.config_hash, LinkRecord((), "/a", "/b", "eth1", "eth1"), True)


def observed(*items: ObservedContainer | Observed[NetworkRecord] | Observed[LinkRecord]) -> ObservedState:
    return ObservedState(
        P,
        containers={i.rid: i for i in items if isinstance(i, ObservedContainer)},
        networks={i.rid: i for i in items if isinstance(i, Observed) and i.rid.kind == "network"},  # type: ignore[misc]
        links={i.rid: i for i in items if isinstance(i, Observed) and i.rid.kind == "link"},  # type: ignore[misc]
    )


LAN = network()
DB = container("db")
WEB = container("web", depends_on={"db": Dependency("service_healthy", restart=True)})


def test_an_empty_host_gets_everything_in_dependency_order() -> None:
    plan = reconcile(desired(LAN, DB, WEB), observed(), UP)
    assert plan.render(edges=True) == (
        "create         network:lan                              missing\n"
        "create         container:lab-db-1                       missing\n"
        "    after create network:lan\n"
        "create         container:lab-web-1                      missing\n"
        "    after create network:lan\n"
        "start          container:lab-db-1                       created\n"
        "    after create container:lab-db-1\n"
        "wait-healthy   container:lab-db-1                       a dependent needs it healthy\n"
        "    after start container:lab-db-1\n"
        "start          container:lab-web-1                      created\n"
        "    after create container:lab-web-1, start container:lab-db-1, wait-healthy container:lab-db-1\n"
    )


def test_what_matches_is_left_alone() -> None:
    want = desired(LAN, DB, WEB)
    plan = reconcile(want, observed(seen_network(LAN), seen(DB), seen(WEB)), UP)
    assert not plan
    assert plan.render() == "nothing to do: the host matches the project\n"


def test_a_changed_config_recreates_and_restarts_dependents_that_ask() -> None:
    plan = reconcile(
        desired(LAN, DB, WEB), observed(seen_network(LAN), seen(DB, config_hash="old"), seen(WEB)), UP
    )
    assert plan.render() == (
        "stop           container:lab-db-1                       config hash changed\n"
        "remove         container:lab-db-1                       config hash changed\n"
        "create         container:lab-db-1                       config hash changed\n"
        "start          container:lab-db-1                       config hash changed\n"
        "wait-healthy   container:lab-db-1                       a dependent needs it healthy\n"
        "restart        container:lab-web-1                      dependency db was recreated\n"
    )


def test_a_dependent_without_restart_true_keeps_running() -> None:
    web = container("web", depends_on={"db": Dependency()})
    plan = reconcile(
        desired(LAN, DB, web), observed(seen_network(LAN), seen(DB, config_hash="old"), seen(web)), UP
    )
    assert not plan.has(Verb.RESTART, web.rid)


@pytest.mark.parametrize(
    ("state", "exit_code", "restart", "stopped", "expected"),
    [
        (
            "exited",
            1,
            "no",
            False,
            "start          container:lab-db-1                       not running (exited 1)\n",
        ),
        ("exited", 0, "no", False, ""),  # a one-shot that completed stays done
        ("exited", 0, "on-failure:3", False, ""),
        (
            "exited",
            0,
            "always",
            False,
            "start          container:lab-db-1                       not running (exited 0)\n",
        ),
        (
            "exited",
            0,
            "no",
            True,
            "start          container:lab-db-1                       not running (exited 0)\n",
        ),
        (
            "created",
            None,
            "no",
            False,
            "start          container:lab-db-1                       not running (created)\n",
        ),
    ],
)
def test_a_container_that_is_not_running(state: str, exit_code: int | None, restart: str, stopped: bool,
                                         expected: str) -> None:  # fmt: skip
    db = container("db", restart=restart)
    plan = reconcile(desired(LAN, db), observed(seen_network(LAN), seen(db, state=state, exit_code=exit_code,
                                                                        stopped_by_user=stopped)), UP)  # fmt: skip
    assert plan.render() == (expected or "nothing to do: the host matches the project\n")


def test_a_half_made_container_is_removed_and_made_again_without_a_stop() -> None:
    plan = reconcile(desired(LAN, DB), observed(seen_network(LAN), seen(DB, phase="creating")), UP)
    assert plan.render() == (
        "remove         container:lab-db-1                       left half-made by an interrupted command\n"
        "create         container:lab-db-1                       left half-made by an interrupted command\n"
        "start          container:lab-db-1                       left half-made by an interrupted command\n"
    )


def test_a_lost_netns_recreates_even_with_no_recreate() -> None:
    options = ReconcileOptions(no_recreate=True)
    changed = seen(DB, config_hash="old")
    assert not reconcile(desired(LAN, DB), observed(seen_network(LAN), changed), options)
    lost = seen(DB, sandbox_ok=False)
    plan = reconcile(desired(LAN, DB), observed(seen_network(LAN), lost), options)
    assert plan.has(Verb.CREATE, DB.rid)
    assert plan.actions[key(Verb.CREATE, DB.rid)].cause == "its network namespace is gone"


def test_force_recreate_recreates_everything() -> None:
    plan = reconcile(
        desired(LAN, DB), observed(seen_network(LAN), seen(DB)), ReconcileOptions(force_recreate=True)
    )
    assert [a.verb for a in plan.ordered()] == [Verb.STOP, Verb.REMOVE, Verb.CREATE, Verb.START]
    assert {a.cause for a in plan.ordered()} == {"--force-recreate"}


def test_a_vanished_bridge_remakes_the_network_and_its_containers() -> None:
    plan = reconcile(desired(LAN, DB), observed(seen_network(LAN, present=False), seen(DB)), UP)
    assert plan.render(edges=True) == (
        "stop           container:lab-db-1                       network lan is made again\n"
        "remove         container:lab-db-1                       network lan is made again\n"
        "    after stop container:lab-db-1\n"
        "remove         network:lan                              bridge cmb-lan is gone\n"
        "    after remove container:lab-db-1\n"
        "create         network:lan                              bridge cmb-lan is gone\n"
        "    after remove network:lan\n"
        "create         container:lab-db-1                       network lan is made again\n"
        "    after remove container:lab-db-1, create network:lan\n"
        "start          container:lab-db-1                       network lan is made again\n"
        "    after create container:lab-db-1\n"
    )


def test_scaling_down_removes_the_highest_numbers_and_orphans_wait_for_the_flag() -> None:
    web2 = container("web", 2)
    gone = container("old")
    state = observed(seen_network(LAN), seen(DB), seen(WEB), seen(web2), seen(gone))
    plan = reconcile(desired(LAN, DB, WEB), state, UP)
    assert plan.render() == (
        "stop           container:lab-web-2                      scaled down\n"
        "remove         container:lab-web-2                      scaled down\n"
        "note: orphan containers (services no longer in the project): lab-old-1; "
        "run up --remove-orphans to remove them\n"
    )
    plan = reconcile(desired(LAN, DB, WEB), state, ReconcileOptions(remove_orphans=True))
    assert plan.has(Verb.REMOVE, gone.rid) and not plan.notes


def test_services_left_out_of_up_service_are_not_touched() -> None:
    want = replace(desired(LAN, DB), untouched_services=frozenset({"web"}))
    assert not reconcile(want, observed(seen_network(LAN), seen(DB), seen(WEB)), UP)


def test_links_follow_their_ends() -> None:
    r1, r2 = container("r1", networks=()), container("r2", networks=())
    wire = link("r1", "r2")
    plan = reconcile(
        desired(r1, r2, wire), observed(seen(r1, config_hash="old"), seen(r2), seen_link(wire)), UP
    )
    assert plan.actions[key(Verb.CREATE, wire.rid)].cause == "an end's container is recreated"
    assert not plan.has(Verb.START, r2.rid)  # its end of the link is made again; it keeps running
    assert key(Verb.CREATE, wire.rid) in plan.after[key(Verb.START, r1.rid)]
    edited = replace(wire, config_hash="l2")
    plan = reconcile(desired(r1, r2, edited), observed(seen(r1), seen(r2), seen_link(wire)), UP)
    assert plan.render() == (
        "remove         link:r1:eth1--r2:eth1                    config hash changed\n"
        "create         link:r1:eth1--r2:eth1                    config hash changed\n"
    )


def test_the_firewall_is_rewritten_when_its_table_is_gone() -> None:
    nat = replace(LAN, internal=False)
    want = desired(nat, DB)
    table = Observed(firewall_id(P), "created", firewall_hash(want), FirewallRecord(P), False)
    state = replace(observed(seen_network(nat), seen(DB)), firewall=table)
    assert reconcile(want, state, UP).render() == (
        "apply          firewall:lab                             the nftables table is gone\n"
    )


def test_down_stops_dependents_first_and_removes_links_before_containers_before_networks() -> None:
    r1, r2 = container("r1"), container("r2", depends_on={"r1": Dependency()})
    wire = link("r1", "r2")
    state = observed(seen_network(LAN), seen(r1), seen(r2), seen_link(wire))
    plan = reconcile(DesiredState.empty(P), state, ReconcileOptions(down=True))
    assert plan.render(edges=True) == (
        "stop           container:lab-r2-1                       down\n"
        "stop           container:lab-r1-1                       down\n"
        "    after stop container:lab-r2-1\n"
        "remove         link:r1:eth1--r2:eth1                    down\n"
        "remove         container:lab-r1-1                       down\n"
        "    after stop container:lab-r1-1, remove link:r1:eth1--r2:eth1\n"
        "remove         container:lab-r2-1                       down\n"
        "    after stop container:lab-r2-1, remove link:r1:eth1--r2:eth1\n"
        "remove         network:lan                              down\n"
        "    after remove container:lab-r1-1, remove container:lab-r2-1\n"
    )


def test_the_same_input_gives_the_same_plan() -> None:
    state = observed(seen_network(LAN), seen(DB, config_hash="old"))
    first = reconcile(desired(LAN, DB, WEB), state, UP)
    assert all(reconcile(desired(LAN, DB, WEB), state, UP).render(edges=True) == first.render(edges=True)
               for _ in range(5))  # fmt: skip


def test_a_cycle_is_a_plan_error_naming_the_actions() -> None:
    builder = PlanBuilder()
    a, b = container_id("a"), container_id("b")
    builder.add(Action(Verb.START, a, "x"), after=[key(Verb.START, b)])
    builder.add(Action(Verb.START, b, "x"), after=[key(Verb.START, a)])
    with pytest.raises(PlanCycleError, match="a cycle among start container:a, start container:b") as error:
        builder.build()
    assert error.value.exit_code == 2


def test_a_plan_is_immutable() -> None:
    plan = reconcile(desired(LAN), observed(), UP)
    with pytest.raises(AttributeError):
        plan.order = ()  # type: ignore[misc]
    assert plan.order == (key(Verb.CREATE, ResourceId("network:lan")),)
