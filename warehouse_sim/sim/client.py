"""One wrapper that owns one PyBullet client.

Robots, worlds and tasks talk to PyBullet only through a :class:`PhysicsClient`:
never the global default client. Its PyBullet handle is private: the sim layer's own
modules (bodies, sensors, renderers) reach it through :func:`bullet_of`; everything above
``sim`` uses the client's methods (step, saved states, contacts) and the sim objects'
(robots, lidar, arm), and the layering test forbids raw PyBullet there. The static scene is built once; resets restore a saved state
(``restoreState`` costs ~0.01 ms, rebuilding a scene 11-40 ms), so memory stays bounded
over any number of resets.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
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
                self._bc: BulletClient | None = BulletClient(connection_mode=p.GUI if gui else p.DIRECT)
        except Exception:
            if gui:
                _GUI_LOCK.release()
            raise
        self.time_step = float(time_step)
        bc = self._bc
        bc.setAdditionalSearchPath(pybullet_data.getDataPath())
        bc.setPhysicsEngineParameter(fixedTimeStep=self.time_step, deterministicOverlappingPairs=1)
        bc.setGravity(0.0, 0.0, gravity)
        if gui:
            bc.configureDebugVisualizer(p.COV_ENABLE_GUI, 0)

    def _handle(self) -> BulletClient:
        if self._bc is None:
            raise RuntimeError("the physics client is closed")
        return self._bc

    @property
    def is_gui(self) -> bool:
        """Whether this client drives the PyBullet GUI."""
        return self._gui

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._bc is None

    @property
    def n_bodies(self) -> int:
        """Number of bodies in the simulation."""
        return int(self._handle().getNumBodies())

    def step(self, n_substeps: int = 1) -> None:
        """Advance the physics by ``n_substeps`` fixed time steps."""
        step = self._handle().stepSimulation
        for _ in range(n_substeps):
            step()

    def stepper(self) -> Callable[[], None]:
        """The bound single-substep function, for hot loops that step many times per call."""
        return self._handle().stepSimulation

    def save_state(self) -> int:
        """Save the full simulation state in memory and return its id."""
        return int(self._handle().saveState())

    def restore_state(self, state_id: int, *, refresh_contacts: bool = False) -> None:
        """Restore a state saved by :meth:`save_state` (cheap: no bodies are reloaded).

        Args:
            state_id: What :meth:`save_state` returned.
            refresh_contacts: Run one collision-detection pass afterwards, so contact pairs
                cached from before the restore are dropped and the next steps replay exactly
                as from the saved state.
        """
        bc = self._handle()
        bc.restoreState(stateId=state_id)
        if refresh_contacts:
            bc.performCollisionDetection()

    def remove_state(self, state_id: int) -> None:
        """Free a state saved by :meth:`save_state`."""
        self._handle().removeState(state_id)

    def load_urdf(self, file_name: str, **kwargs: Any) -> int:
        """Load a URDF (from pybullet_data or an absolute path) and return its body id."""
        return int(self._handle().loadURDF(file_name, **kwargs))

    def close(self) -> None:
        """Disconnect. Idempotent."""
        if self._bc is None:
            return
        try:
            with quiet_native_output():  # the GUI's threads report their shutdown on stdout
                self._bc.disconnect()
        finally:
            self._bc = None
            if self._gui:
                _GUI_LOCK.release()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown; nothing to report to
            pass


def bullet_of(client: PhysicsClient) -> BulletClient:
    """The PyBullet handle of ``client``, for the sim layer's own modules only.

    Code above ``sim`` never calls PyBullet (``tests/test_layering.py`` checks that no
    module outside ``warehouse_sim/sim`` uses this); white-box tests may, to inject faults.

    Raises:
        RuntimeError: after :meth:`PhysicsClient.close`.
    """
    return client._handle()  # noqa: SLF001 - the one sanctioned access
