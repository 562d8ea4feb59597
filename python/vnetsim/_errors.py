"""The exceptions of the vnetsim package.

What it is for: the errors a caller can catch, raised by the native module and the package
alike. A scenario that does not load raises :class:`ScenarioError`, whose ``diagnostics`` hold
each problem with its file, line, column, field path and stable rule code. What it is not: a
verdict; a dropped packet is a :class:`vnetsim.Verdict`, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence


class VnetsimError(Exception):
    """Base class of every error vnetsim raises."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem of a scenario file, as ``vnetsim validate`` reports it."""

    file: str
    """The file name as given to the loader (``<inline>`` for YAML text)."""
    line: int
    """1-based line (0 when unknown)."""
    column: int
    """1-based column (0 when unknown)."""
    path: str
    """Field path inside the file, e.g. ``vnets[1].address_space[0]``."""
    rule: str
    """Stable rule code, e.g. ``peering-address-overlap``."""
    message: str
    """What is wrong, naming the Azure rule broken."""
    help: Optional[str] = None
    """How to fix it, when there is something useful to say."""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message} [{self.rule}]"


class ScenarioError(VnetsimError, ValueError):
    """The scenario did not load. ``str(err)`` renders every diagnostic with a snippet of the
    file; ``err.diagnostics`` lists them; ``err.rules`` their rule codes."""

    def __init__(self, message: str, diagnostics: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(message)
        self.diagnostics: List[Diagnostic] = [Diagnostic(**dict(d)) for d in diagnostics]

    @property
    def rules(self) -> List[str]:
        """The rule codes of the diagnostics, in file order."""
        return [d.rule for d in self.diagnostics]


class NameNotFoundError(VnetsimError, LookupError):
    """A VM, NIC, host or group name that the scenario does not have. ``err.name`` is the name
    given; the message suggests the nearest one when there is one."""

    def __init__(self, message: str, name: str = "") -> None:
        super().__init__(message)
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TemplateError(VnetsimError, ValueError):
    """An ARM template (or its parameters) could not be evaluated or mapped to a scenario."""


class VariantsError(VnetsimError, ValueError):
    """The variants of a sweep cannot be used: the variants file is not one, a variant's edit
    cannot be made (a bad path, a name the scenario does not have), two variants share a name,
    or an edited scenario breaks a rule. ``err.source`` names the variants (a path, or
    ``<variants>`` for a dict), ``err.line`` the line there (0 when unknown), ``err.variant``
    the variant (``None`` for the file as a whole) and ``err.diagnostics`` the edited
    scenario's problems (empty unless the edited scenario did not load)."""

    def __init__(
        self,
        message: str,
        source: str = "",
        line: int = 0,
        variant: Optional[str] = None,
        diagnostics: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(message)
        self.source = source
        self.line = line
        self.variant = variant
        self.diagnostics: List[Diagnostic] = [Diagnostic(**dict(d)) for d in diagnostics]

    @property
    def rules(self) -> List[str]:
        """The rule codes of the diagnostics."""
        return [d.rule for d in self.diagnostics]
