"""One wrapper that owns one PyBullet client.

Robots, worlds and tasks talk to PyBullet only through a :class:`PhysicsClient`:
never the global default client. Bodies are addressed by name. The static scene is
built once; resets restore a saved state (``restoreState`` costs ~0.01 ms, rebuilding
a scene 11-40 ms), so memory stays bounded over any number of resets.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from warehouse_sim.sim._pybullet import BulletClient, p, pybullet_data, quiet_native_output

# PyBullet allows one GUI connection per process: this lock tracks that process-wide
# resource (it mirrors PyBullet's own global, it is not simulation state).
_GUI_LOCK = threading.Lock()


class GuiInUseError(RuntimeError):
    """Raised when a second GUI client is requested in one process."""


class GuiUnavailableError(RuntimeError):
    """Raised when the GUI is requested on Linux without a display (PyBullet would exit the process)."""


class PhysicsClient:
    """A PyBullet client with a fixed time step, named bodies and saved states.

    Args:
        gui: Open the PyBullet GUI (``render_mode="human"``) instead of DIRECT mode.
        time_step: Physics time step in seconds.
        gravity: Gravity along world z in m/s^2.

    Raises:
        GuiInUseError: if ``gui`` is requested while another GUI client is open in
            this process (PyBullet allows only one).
        GuiUnavailableError: if ``gui`` is requested on Linux with no ``DISPLAY`` (run
            under ``xvfb-run`` for a virtual one).
        ValueError: if ``time_step`` is not positive.
    """

    def __init__(self, *, gui: bool = False, time_step: float = 1.0 / 60.0, gravity: float = -9.81) -> None:
        if not time_step > 0:
            raise ValueError(f"time_step must be positive, got {time_step!r}")
        self._gui = gui
        if gui and sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
            raise GuiUnavailableError(
                "render_mode='human' needs a display: set DISPLAY, or run under `xvfb-run -a`"
            )
        if gui and not _GUI_LOCK.acquire(blocking=False):
            raise GuiInUseError(
                "a PyBullet GUI is already open in this process (PyBullet allows one); "
                "close the other render_mode='human' environment first"
            )
        try:
            with quiet_native_output():
                self._bullet: BulletClient | None = BulletClient(connection_mode=p.GUI if gui else p.DIRECT)
        except Exception:
            if gui:
                _GUI_LOCK.release()
            raise
        self.time_step = float(time_step)
        bc = self._bullet
        bc.setAdditionalSearchPath(pybullet_data.getDataPath())
        bc.setPhysicsEngineParameter(fixedTimeStep=self.time_step, deterministicOverlappingPairs=1)
        bc.setGravity(0.0, 0.0, gravity)
        if gui:
            bc.configureDebugVisualizer(p.COV_ENABLE_GUI, 0)
        self._bodies: dict[str, int] = {}

    @property
    def bullet(self) -> BulletClient:
        """The underlying client (``bullet.stepSimulation()`` etc.).

        Raises:
            RuntimeError: after :meth:`close`.
        """
        if self._bullet is None:
            raise RuntimeError("the physics client is closed")
        return self._bullet

    @property
    def client_id(self) -> int:
        """The PyBullet physics client id (for ``physicsClientId=`` arguments)."""
        return self.bullet._client  # noqa: SLF001 - BulletClient exposes no public accessor

    @property
    def is_gui(self) -> bool:
        """Whether this client drives the PyBullet GUI."""
        return self._gui

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._bullet is None

    def add_body(self, name: str, body_id: int) -> int:
        """Register ``body_id`` under ``name`` and return it.

        Raises:
            ValueError: if the name is already taken.
        """
        if name in self._bodies:
            raise ValueError(f"a body named {name!r} already exists")
        self._bodies[name] = body_id
        return body_id

    def body(self, name: str) -> int:
        """Return the PyBullet id of the body called ``name``."""
        try:
            return self._bodies[name]
        except KeyError:
            raise KeyError(f"no body named {name!r}") from None

    @property
    def body_names(self) -> tuple[str, ...]:
        """The names of all registered bodies, in creation order."""
        return tuple(self._bodies)

    def step(self, n_substeps: int = 1) -> None:
        """Advance the physics by ``n_substeps`` fixed time steps."""
        step = self.bullet.stepSimulation
        for _ in range(n_substeps):
            step()

    def save_state(self) -> int:
        """Save the full simulation state in memory and return its id."""
        return self.bullet.saveState()

    def restore_state(self, state_id: int) -> None:
        """Restore a state saved by :meth:`save_state` (cheap: no bodies are reloaded)."""
        self.bullet.restoreState(stateId=state_id)

    def load_urdf(self, name: str, file_name: str, **kwargs: Any) -> int:
        """Load a URDF (from pybullet_data or an absolute path) and register it under ``name``."""
        return self.add_body(name, self.bullet.loadURDF(file_name, **kwargs))

    def close(self) -> None:
        """Disconnect. Idempotent."""
        if self._bullet is None:
            return
        try:
            self._bullet.disconnect()
        finally:
            self._bullet = None
            self._bodies.clear()
            if self._gui:
                _GUI_LOCK.release()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown; nothing to report to
            pass
