"""Every action the console can take, one ActionSpec each, in one explicit list: SPECS.

A spec is what the engine, the CLI and the console know of an action: its name (the plan's `action`,
the audit's), its words, its parameters (the CLI's arguments and options, the form's fields), where
the `a` menu offers it and what a row gives it, how the values become an action, how the action
becomes a Plan and how a Plan runs, its tiers, its lock keys and how its SAL line and result read.

    spec = spec_named("purge")
    action = spec.make({"urls": ("https://meta.miraheze.org/wiki/Main_Page",)}, MakeContext(config))
    plan = engine.plan(action, reason="vandalism")       # the engine finds the spec by action.spec

Nothing registers itself: a new action is one more entry here (and its functions). Loading this
module loads nothing else of ours: `make`, `plan`, `run`, `prepare` and `offers` are "module:attribute"
references resolved on first use, so `opsconsole --help` and the console's first frame stay light.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from console.actions.catalog import Action, PlanContext
    from console.actions.engine import RunContext, StepResult
    from console.actions.plan import Plan
    from console.core.config import AppConfig
    from console.core.hosts import HostDirectory
    from console.core.state import Store


Ref = str | Callable[..., Any]  # "package.module:attribute", or the function itself (a spec built at run time)


def load(reference: Ref) -> Any:
    """The object a "package.module:attribute" reference names (imported on first use); a function
    given as itself is itself (the specs a test or a runbook file builds)."""
    if callable(reference):
        return reference
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Param:
    """One parameter of an action: a CLI argument (option None) or option, and a field of the console's
    form when it has a label. The action's `make` gets it under `name`: from the CLI as click parsed it
    (a tuple for `many`, a bool for a flag, an int for `int_range`, None when not given), from the
    console as the text typed (or the value the row gave)."""

    name: str
    help: str = ""
    option: str | None = None  # "--duration" or "--notify/--no-notify"; None: a positional argument
    metavar: str | None = None
    many: bool = False  # a positional taking several values (nargs=-1)
    required: bool = False
    flag: bool = False
    default: Any = None
    int_range: tuple[int, int] | None = None
    label: str = ""  # the form's label; empty: the console does not ask for it
    placeholder: str = ""
    form_default: str = ""  # what the form's field starts with


@dataclass(frozen=True)
class Use:
    """Where the `a` menu offers a spec: a pane, and what its rows give. rows: `icinga` (alerts:
    HOST!SERVICE; hosts: the host as Icinga names it), `hosts` (host names), `service` (the Services
    row's service). `values` are preset (the Hosts pane's downtime covers every service); `offers`,
    "module:function(spec, use, selection) -> list[Offer]", decides from the farm when and how often
    it is offered (a restart per allow-listed service; a depool only for the caches' backends)."""

    pane: str  # "alerts" | "hosts" | "services"
    rows: str
    id: str = ""  # the menu entry's id; default the spec's name
    label: str = ""  # default the spec's label
    values: Mapping[str, Any] = field(default_factory=dict)
    offers: Ref | None = None
    one_row: bool = False  # only for a single row (guest power)


@dataclass(frozen=True)
class ActionSpec:
    name: str  # the plan's `action`: the audit's, SAL's and GELF's name for it
    label: str  # the menu's words ("acknowledge")
    help: str  # the CLI command's help; its first line is the summary
    params: tuple[Param, ...]
    make: Ref  # "module:function(values, MakeContext) -> Action"; InvalidAction for a bad value
    plan: Ref  # "module:function(action, PlanContext) -> Plan" (no network)
    run: Ref  # "module:async function(RunContext) -> list[StepResult]"
    tier: tuple[int, int]  # the tier for one target and for several (a plan may go higher, never lower)
    command: tuple[str, ...] | None = None  # the CLI command: ("downtime", "add"); None: none of its own
    uses: tuple[Use, ...] = ()
    key: str | None = None  # a key of the panes that opens it at once (P, A, D)
    locks: str = "targets"  # the lock key of a target: "url", "site" or "targets" (host:/icinga:/as given)
    report: str = "steps"  # "caches": the SAL line and the result count caches (purge, ban)
    sal_start_end: bool = False  # long: a `START - ...` SAL line first, then `END (PASS|FAIL) - ...`
    cancellable: bool = False  # stops between batches on request (c in the console, Ctrl-C in the CLI)
    inventory: bool = False  # the CLI reads the host inventory (Proxmox, PuppetDB) for `make`
    prepare: Ref | None = None  # "module:async function(action, PrepareContext) -> Action": reads before its form
    defaults: Ref | None = None  # "module:function(config) -> {param: text}": the form's values from the config

    def make_action(self, values: Mapping[str, Any], context: MakeContext) -> Action:
        action: Action = load(self.make)(values, context)
        return action

    def build_plan(self, action: Action, context: PlanContext) -> Plan:
        plan: Plan = load(self.plan)(action, context)
        if plan.action != self.name:
            raise ValueError(f"the plan of {self.name} says it is {plan.action}")
        return plan

    async def run_plan(self, run: RunContext) -> list[StepResult]:
        return list(await load(self.run)(run))

    def form_values(self, config: AppConfig) -> dict[str, str]:
        """What the console's form fields start with: each param's form_default, then the config's."""
        values = {param.name: param.form_default for param in self.form}
        if self.defaults is not None:
            values.update(load(self.defaults)(config))
        return values

    @property
    def form(self) -> tuple[Param, ...]:
        """The parameters the console's form asks for, in order."""
        return tuple(param for param in self.params if param.label)


@dataclass
class MakeContext:
    """What `make` may read besides the values: the config, and the host inventory on demand (the
    console's store; the CLI refreshes Proxmox and PuppetDB once)."""

    config: AppConfig
    inventory: Callable[[], HostDirectory] | None = None
    store: Store | None = None

    def directory(self) -> HostDirectory:
        from console.actions.guard import NotConfigured

        if self.inventory is None:
            raise NotConfigured("refused: no host inventory here")
        return self.inventory()


@dataclass
class PrepareContext:
    """What a spec's `prepare` may use in the console: the config, the store, the session's engine."""

    config: AppConfig
    store: Store
    engine: Any  # console.actions.engine.ActionEngine (its command executor, its session)
    writable: bool


@dataclass(frozen=True)
class Selection:
    """The rows an `a` menu is for: the pane, their keys, and what they give (resolved by the console)."""

    pane: str
    keys: tuple[str, ...]
    config: AppConfig
    store: Store
    hosts: tuple[str, ...] = ()  # Hosts rows: short names
    icinga: tuple[Any, ...] = ()  # IcingaTargets: Alerts rows HOST!SERVICE, Hosts rows the host as Icinga names it
    icinga_refused: str = ""  # why the rows give no Icinga target (a Graylog event, another cluster)
    service: str = ""  # Services row


@dataclass(frozen=True)
class Offer:
    """One entry of the `a` menu: a spec with the values the rows gave; the form asks the rest."""

    id: str
    label: str
    spec: ActionSpec
    values: Mapping[str, Any] = field(default_factory=dict)
    action: Any = None  # an Action made beforehand (a leftover's clean-up, a prepared depool): no form


def offers_for(selection: Selection, specs: tuple[ActionSpec, ...] | None = None) -> list[Offer]:
    """The `a` menu for `selection`, in the specs' order. Offers functions may raise nothing: a spec
    whose rows do not fit is left out."""
    found: list[Offer] = []
    for spec in SPECS if specs is None else specs:
        for use in spec.uses:
            if use.pane != selection.pane or (use.one_row and len(selection.keys) != 1):
                continue
            if use.offers is not None:
                found += load(use.offers)(spec, use, selection)
                continue
            values = row_values(use, selection)
            if values is not None:
                found.append(Offer(use.id or spec.name, use.label or spec.label, spec, {**values, **use.values}))
    return found


def row_values(use: Use, selection: Selection) -> dict[str, Any] | None:
    """What the rows give the spec's `targets` (or `hosts`, `service`); None when they give nothing."""
    if use.rows == "icinga":
        return {"targets": selection.icinga} if selection.icinga else None
    if use.rows == "hosts":
        return {"hosts": selection.hosts} if selection.hosts else None
    if use.rows == "service":
        return {"service": selection.service} if selection.service else None
    return {}


def words(value: Any) -> tuple[str, ...]:
    """A list parameter's values: the CLI's tuple, or the words of the text typed in the console."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(value.split())
    return tuple(str(item) for item in value)


def text(value: Any) -> str | None:
    """An option's text: None when not given (or left empty in the form)."""
    if value is None:
        return None
    cleaned = str(value).strip()
    return cleaned or None


# --- the list ------------------------------------------------------------------------------------

TARGETS = Param("targets", many=True, required=True, metavar="HOST[!SERVICE]...")
HOSTS = Param("hosts", many=True, required=True, metavar="HOST...")
DURATION = Param("duration", option="--duration", required=True, metavar="DURATION",
                 help="How long, from now: 30m, 2h, 1d, 1h30m.", label="Duration", placeholder="duration: 30m, 2h, 1d",
                 form_default="2h")  # fmt: skip
CATALOG = "console.actions.catalog"
ICINGA_RUN = "console.actions.engine:run_icinga"
CACHES_RUN = "console.actions.engine:run_caches"
RESTART = "console.actions.restart"
GUEST_HELP = {
    "start": ("guest: start", "Start the guest HOST (tier 1).", (1, 1)),
    "shutdown": ("guest: shutdown (ACPI)", "ACPI shutdown of the guest HOST (tier 2).", (2, 2)),
    "reboot": ("guest: reboot (ACPI)", "ACPI reboot of the guest HOST (tier 2).", (2, 2)),
    "stop": ("guest: stop (hard, like pulling the plug)",
             "Hard stop of the guest HOST, like pulling the plug (tier 3: --confirm HOST).", (3, 3)),
}
PUPPET_HELP = {
    "run": ("puppet: run the agent (-tv)", "`puppet agent -tv` on each HOST; its output is streamed. Exit codes 0 (no "
            "changes) and 2 (changes) are success; 4 and 6 (failures) and 1 (disabled) are not."),
    "disable": ("puppet: disable (the reason is the message)",
                "`puppet agent --disable` with the reason (and who, and the task) as its message."),
    "enable": ("puppet: enable", "`puppet agent --enable`."),
}
# the CLI groups of commands with subcommands
GROUPS = {
    "downtime": "Schedule or remove Icinga downtime.",
    "guest": "Power a Proxmox guest: start (tier 1), shutdown and reboot (tier 2), stop (tier 3, --confirm HOST).\n\n"
             "The node and VM id come from the Proxmox inventory; the task is followed until it stops and its "
             "exit status and log are printed.",
    "puppet": "Run, disable or enable the Puppet agent on HOSTs through the command executor (actions.puppet).",
}

SPECS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "purge", "purge URL(s)",
        "Purge URLs from every configured cache, then verify with a GET through each.\n\n"
        "Tier 1 for one URL, tier 2 for several. A cache that refuses (405) or is down is reported, "
        "and the result is partial (exit 1).",
        (Param("urls", many=True, required=True, metavar="URL...", label="URL(s) to purge",
               placeholder="URL(s) to purge, space-separated"),),
        f"{CATALOG}:make_purge", f"{CATALOG}:plan_purge", CACHES_RUN, (1, 2), command=("purge",),
        key="P", locks="url", report="caches",
    ),
    ActionSpec(
        "ban", "ban a pattern",
        "Ban every object of HOST whose URL matches the regex PATTERN, on every cache (tier 3).",
        (Param("pattern", metavar="PATTERN", required=True),
         Param("host", option="--host", required=True, metavar="HOST", help="The site whose objects are banned (Host header).")),
        f"{CATALOG}:make_ban", f"{CATALOG}:plan_ban", CACHES_RUN, (3, 3), command=("ban",), locks="site", report="caches",
    ),  # fmt: skip
    ActionSpec(
        "ack", "acknowledge",
        "Acknowledge the problem of HOST or HOST!SERVICE in Icinga (the comment is the reason).",
        (TARGETS,
         Param("sticky", option="--sticky", flag=True, help="Keep the acknowledgement until the check is OK again."),
         Param("expire", option="--expire", metavar="DURATION", help="Remove the acknowledgement after DURATION (30m, 2h, 1d)."),
         Param("notify", option="--notify/--no-notify", flag=True, default=True, help="Send the acknowledgement notification.")),
        f"{CATALOG}:make_ack", f"{CATALOG}:plan_ack", ICINGA_RUN, (1, 2), command=("ack",),
        uses=(Use("alerts", "icinga"),), key="A",
    ),  # fmt: skip
    ActionSpec(
        "unack", "remove acknowledgement", "Remove the acknowledgement of HOST or HOST!SERVICE.", (TARGETS,),
        f"{CATALOG}:make_unack", f"{CATALOG}:plan_unack", ICINGA_RUN, (1, 2), command=("unack",),
        uses=(Use("alerts", "icinga"),),
    ),
    ActionSpec(
        "ack-downtime", "acknowledge + downtime",
        "Acknowledge HOST or HOST!SERVICE and schedule a fixed downtime starting now, with one comment "
        "(the reason): one plan, two requests per target.",
        (TARGETS, DURATION),
        f"{CATALOG}:make_ack_downtime", f"{CATALOG}:plan_ack_downtime", ICINGA_RUN, (1, 2), command=("ack-downtime",),
        uses=(Use("alerts", "icinga"),),
    ),
    ActionSpec(
        "downtime-add", "schedule downtime", "Schedule a fixed downtime starting now.",
        (TARGETS, DURATION, Param("all_services", option="--all-services", flag=True,
                                  help="For a HOST: its services too (tier 2).")),
        f"{CATALOG}:make_downtime_add", f"{CATALOG}:plan_downtime_add", ICINGA_RUN, (1, 2), command=("downtime", "add"),
        uses=(Use("alerts", "icinga", id="downtime"),
              Use("hosts", "icinga", id="downtime", label="downtime host (all services)", values={"all_services": True})),
        key="D",
    ),  # fmt: skip
    ActionSpec(
        "downtime-remove", "remove downtime", "Remove the downtime of HOST or HOST!SERVICE.",
        (TARGETS, Param("all_services", option="--all-services", flag=True,
                        help="For a HOST: every downtime on it, its services' too (tier 2).")),
        f"{CATALOG}:make_downtime_remove", f"{CATALOG}:plan_downtime_remove", ICINGA_RUN, (1, 2),
        command=("downtime", "remove"),
        uses=(Use("alerts", "icinga", id="undowntime"),
              Use("hosts", "icinga", id="undowntime", label="remove host downtime (all services)",
                  values={"all_services": True})),
    ),  # fmt: skip
    ActionSpec(
        "recheck", "re-check now", "Re-check HOST or HOST!SERVICE now (reschedule-check with force).", (TARGETS,),
        f"{CATALOG}:make_recheck", f"{CATALOG}:plan_recheck", ICINGA_RUN, (1, 2), command=("recheck",),
        uses=(Use("alerts", "icinga"), Use("hosts", "icinga", label="re-check host now")),
    ),
    ActionSpec(
        "restart", "restart",
        "Restart the allow-listed SERVICE on HOSTs — no HOST: every host of its glob — in batches.\n\n"
        "Per host: [Icinga downtime] → depool from every cache → restart → health check → repool → "
        "[remove the downtime]. A host whose restart or check fails stays DEPOOLED. Ctrl-C stops between "
        "batches: the hosts in hand finish (and are repooled), the rest is skipped. Tier 2 (`go`); the "
        "whole fleet of the service is tier 3 (--confirm SERVICE).",
        (Param("service", metavar="SERVICE", required=True),
         Param("hosts", many=True, metavar="[HOST]..."),
         Param("batch", option="--batch", metavar="N", int_range=(1, 100), label="Batch",
               help="Hosts restarted at once (default actions.rolling.batch).",
               placeholder="batch size (hosts at once)"),
         Param("budget", option="--failure-budget", metavar="N", int_range=(0, 100), label="Failure budget",
               help="Failed hosts allowed before the run stops (default actions.rolling.failure_budget).",
               placeholder="failure budget (failed hosts before it stops)"),
         Param("downtime", option="--downtime", metavar="15m|0", label="Downtime",
               help="Icinga downtime per host around its restart; 0 = none (default actions.rolling.downtime).",
               placeholder="Icinga downtime per host: 15m, 1h; 0 = none")),
        f"{RESTART}:make_restart", f"{RESTART}:plan_restart", f"{RESTART}:run_restart", (2, 2), command=("restart",),
        uses=(Use("hosts", "hosts", offers=f"{RESTART}:offer_restart"),
              Use("services", "service", offers=f"{RESTART}:offer_rolling_restart")),
        sal_start_end=True, cancellable=True, inventory=True, defaults=f"{RESTART}:form_defaults",
    ),  # fmt: skip
    ActionSpec(
        "depool", "depool from every cache",
        "Take app servers out of every cache (backend set `sick`). Tier 1 for one host, 2 for several.", (HOSTS,),
        f"{RESTART}:make_depool", f"{RESTART}:plan_pool", f"{RESTART}:run_depool", (1, 2), command=("depool",),
        uses=(Use("hosts", "hosts", offers=f"{RESTART}:offer_pool"),), prepare=f"{RESTART}:prepare_pool",
    ),
    ActionSpec(
        "repool", "repool (back to auto) on every cache",
        "Put app servers back in every cache: backend `auto`, so the caches' health probe decides again "
        "(a server still broken stays out on its own; `healthy` would force traffic to it).", (HOSTS,),
        f"{RESTART}:make_repool", f"{RESTART}:plan_pool", f"{RESTART}:run_repool", (1, 2), command=("repool",),
        uses=(Use("hosts", "hosts", offers=f"{RESTART}:offer_pool"),), prepare=f"{RESTART}:prepare_pool",
    ),
    *(
        ActionSpec(
            f"guest-{command}", label, help_text, (Param("host", metavar="HOST", required=True),),
            f"console.actions.power:make_{command}", "console.actions.power:plan_guest_power",
            "console.actions.power:run_guest_power", tier, command=("guest", command),
            uses=(Use("hosts", "hosts", id=f"guest:{command}", one_row=True, offers="console.actions.power:offer_guest"),),
            inventory=True,
        )
        for command, (label, help_text, tier) in GUEST_HELP.items()
    ),  # fmt: skip
    *(
        ActionSpec(
            f"puppet-{which}", label, help_text, (HOSTS,),
            f"console.actions.puppet:make_{which}", "console.actions.puppet:plan_puppet",
            f"console.actions.puppet:run_{'agent' if which == 'run' else 'switch'}", (1, 2), command=("puppet", which),
            uses=(Use("hosts", "hosts", id=f"puppet:{which}", offers="console.actions.puppet:offer_puppet"),),
            cancellable=True, inventory=True,
        )
        for which, (label, help_text) in PUPPET_HELP.items()
    ),  # fmt: skip
    ActionSpec(
        # `opsconsole locks break` keeps its own command (it confirms by the key and audits `lock-broken`);
        # the console breaks a stale lock from the leftovers board through this spec
        "break-lock", "break the lock", "Remove the lock KEY (e.g. host:mw152) whoever holds it; audited.",
        (Param("key", metavar="KEY", required=True),),
        "console.actions.lockbreak:make_break_lock", "console.actions.lockbreak:plan_break_lock",
        "console.actions.lockbreak:run_break_lock", (2, 2),
    ),
)


def spec_named(name: str, specs: tuple[ActionSpec, ...] | None = None) -> ActionSpec:
    """The spec called `name`; KeyError for none."""
    for spec in SPECS if specs is None else specs:
        if spec.name == name:
            return spec
    raise KeyError(name)


def commands(specs: tuple[ActionSpec, ...] | None = None) -> list[str]:
    """The top-level CLI commands the specs make (a group counts once)."""
    return list(dict.fromkeys(spec.command[0] for spec in (SPECS if specs is None else specs) if spec.command))


__all__ = ["GROUPS", "SPECS", "ActionSpec", "MakeContext", "Offer", "Param", "PrepareContext", "Selection", "Use", "commands", "load",
           "offers_for", "spec_named", "words", "text"]
