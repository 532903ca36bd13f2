"""Named components users can add without touching the library: one small registry class.

A registry maps a name to a factory. Configs hold names (strings), so runs stay hashable and the
run store can tell them apart; ``register`` adds a name, ``make`` builds a component.

Registries in the library: intrinsic rewards (:data:`gafn_lib.core.intrinsic.INTRINSIC`),
environments (:data:`gafn_lib.core.config.ENVIRONMENTS`); hypergrid rewards have their own
(:func:`gafn_lib.envs.rewards.register_grid_reward`), since they are built from a grid config.

Names registered only inside a notebook are unknown to process-pool or Ray workers, which import
the library afresh: register in an importable module for those backends, or use ``backend="serial"``.
"""

from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """``name -> factory``; ``what`` names the kind of component in error messages."""

    def __init__(self, what: str, builtins: dict[str, Callable[..., T]]):
        self.what = what
        self._builtins = tuple(builtins)
        self._factories: dict[str, Callable[..., T]] = dict(builtins)

    def register(self, name: str, factory: Callable[..., T], overwrite: bool = False) -> None:
        """Add ``name``. Built-in names cannot be replaced; ``overwrite=True`` replaces a user's."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a {self.what} name must be a non-empty string, got {name!r}")
        if name in self._builtins:
            raise ValueError(f"{name!r} is a built-in {self.what}; choose another name")
        if name in self._factories and not overwrite:
            raise ValueError(f"a {self.what} named {name!r} is already registered (pass overwrite=True to replace it)")
        if not callable(factory):
            raise ValueError(f"the factory of {self.what} {name!r} must be callable, got {factory!r}")
        self._factories[name] = factory

    def names(self) -> tuple[str, ...]:
        return tuple(self._factories)

    def __contains__(self, name: Any) -> bool:
        return isinstance(name, str) and name in self._factories

    def check(self, parameter: str, name: Any) -> None:
        """Raise ``ValueError`` naming ``parameter`` unless ``name`` is registered."""
        if name not in self:
            raise ValueError(f"{parameter} must be one of {self.names()} (or a name added with register), got {name!r}")

    def make(self, name: str, *args: Any, **kwargs: Any) -> T:
        self.check(self.what, name)
        return self._factories[name](*args, **kwargs)
